"""Trained models that ship with the package: NAME.json (the model card) beside NAME.weights.h5.

A zoo model is rebuilt from its card's architecture in float32 and its weights are assigned from
the file (stored as float16 to keep the package small), so loading one runs no code from a file:
it is as safe as Keras's safe mode. Wherever a run folder or a .keras file is accepted, a zoo name
works too (`lim-tf map scene.tif bijie OUT`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from lim_tf.errors import InputError
from lim_tf.trained.run import RunState
from lim_tf.zoo.card import ModelCard

ZOO = Path(__file__).resolve().parent
NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")  # plain names: never mistaken for a path


def names() -> list[str]:
    """The shipped models' names."""
    return sorted(path.stem for path in ZOO.glob("*.json"))


def card(name: str) -> ModelCard:
    """A shipped model's card (architecture, bands, resolution, threshold, scores, licence, command)."""
    path = ZOO / f"{name}.json"
    if not NAME.match(name) or not path.exists():
        raise InputError(f"{name!r}: no such file or folder, and not a shipped model; shipped models: "
                         f"{', '.join(names()) or 'none'} (see 'lim-tf models')")
    return ModelCard.load(path)


def is_zoo_name(text: str | Path) -> bool:
    """Whether `text` means a shipped model: a plain name that is not a model file or a run folder
    here (a dataset folder named like a shipped model does not hide it; `shadowing` says which won).

    A plain name that is neither raises, listing the shipped names, so a typo is caught here."""
    text = str(text)
    if not NAME.match(text):
        return False
    if Path(text).exists():
        return not _local_model(Path(text)) and (ZOO / f"{text}.json").exists()
    card(text)
    return True


def shadowing(text: str | Path) -> str | None:
    """A warning where a shipped model's name is also a file or folder here, saying which one is used."""
    text = str(text)
    if not (NAME.match(text) and Path(text).exists() and (ZOO / f"{text}.json").exists()):
        return None
    if _local_model(Path(text)):
        return (f"{text}: using the {'file' if Path(text).is_file() else 'run folder'} ./{text}, not the shipped "
                f"model of that name (rename it, or run from another folder, to use the shipped one)")
    return f"{text}: ./{text} is not a run folder; using the shipped model {text}"


def _local_model(path: Path) -> bool:
    return path.is_file() or (path / "run.json").exists()


def weights_path(name: str) -> Path:
    return ZOO / f"{name}.weights.h5"


def run_state(name: str) -> RunState:
    """What a run folder's run.json says of its models, from the card (no records: a zoo model is
    scored with eval --records or --images)."""
    entry = card(name)
    return RunState(zoo=name, band_names=entry.bands, resolution=entry.resolution_m,
                    threshold=entry.threshold, threshold_source="the model card (validation)", models=[name],
                    architecture=entry.network.name, confidence=entry.confidence, turns=entry.turns)


def load(name: str, policy: str = "float32") -> tuple[Any, RunState]:
    """The shipped model (a Keras model computing in `policy`, float32 unless asked) and its run state."""
    from lim_tf.models import ModelConfig, build_model
    from lim_tf.zoo.weights import load_weights

    entry = card(name)
    spec = entry.network
    model = build_model(ModelConfig(name=spec.name, bands=len(entry.bands), width=spec.width, mean=entry.mean,
                                    std=entry.std, batch_norm=spec.batch_norm, policy=policy))
    load_weights(model, weights_path(name))
    return model, run_state(name)
