"""Trained models of a run: one fold model or the K-fold ensemble (mean probability)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import keras
import numpy as np

from lim_tf.errors import InputError
from lim_tf.models import load_model


@dataclass
class Ensemble:
    """Averages the probability maps of its members; a single model is an ensemble of one."""

    models: list[keras.Model]
    names: list[str]

    @property
    def bands(self) -> int:
        return int(self.models[0].input.shape[-1])

    def predict(self, images: np.ndarray) -> np.ndarray:
        """Mean landslide probability (batch, height, width) over the members."""
        total = np.zeros(images.shape[:3], np.float32)
        for model in self.models:
            total += np.asarray(model.predict_on_batch(images.astype(np.float32)))[..., 0]
        return total / len(self.models)

    def predict_members(self, images: np.ndarray) -> np.ndarray:
        """Each member's probability: (members, batch, height, width)."""
        return np.stack([np.asarray(m.predict_on_batch(images.astype(np.float32)))[..., 0] for m in self.models])


def read_run_state(run: Path) -> dict[str, Any]:
    """run.json of a training run; a folder without finished models is an error."""
    path = Path(run) / "run.json"
    if not path.exists():
        raise InputError(f"{run}: not a training run (no run.json); train one with 'lim-tf train'")
    state = json.loads(path.read_text())
    if not state["ensemble"]["models"]:
        raise InputError(f"{run}: no finished fold model yet; finish training with 'lim-tf train --resume'")
    return state


def load_run(run: Path, fold: int | None = None) -> tuple[Ensemble, dict[str, Any]]:
    """The ensemble of a run (fold=None) or one fold's model, with run.json."""
    state = read_run_state(run)
    names = state["ensemble"]["models"]
    if fold is not None:
        names = [n for n in names if n == f"fold{fold}/model.keras"]
        if not names:
            done = ", ".join(sorted(state["folds"]))
            raise InputError(f"{run}: fold {fold} has no finished model (finished folds: {done or 'none'})")
    return Ensemble([load_model(Path(run) / n) for n in names], names), state


def load_models(path: Path, fold: int | None = None) -> tuple[Ensemble, dict[str, Any]]:
    """A run folder or a single .keras file (then the state holds only a threshold of 0.5)."""
    path = Path(path)
    if path.suffix == ".keras" or path.is_file():
        return Ensemble([load_model(path)], [path.name]), {"threshold": 0.5, "ensemble": {"models": [path.name]}}
    return load_run(path, fold)
