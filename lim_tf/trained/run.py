"""The run folder's state (run.json): written by training, read by every later stage.

`RunState` is the one contract between `train` and `eval`, `map`, `export` and `--init-from`:
every reader goes through `RunState.load`, which checks the fields the stages rely on and names
the file in its one-line error, so a damaged or hand-edited run.json never surfaces as a traceback.
The JSON layout is unchanged from earlier versions (the models under "ensemble").
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lim_tf.atomic import atomic_file
from lim_tf.errors import InputError
from lim_tf.trained.fold import FoldSummary

RUN_FILE = "run.json"
DEFAULT_THRESHOLD = 0.5  # a model with no recorded threshold (a bare .keras file)


@dataclass(frozen=True)
class RunFolder:
    """A run folder's layout, the one place it is spelled:

    run.json, config.yaml, fold<k>/model.keras (with history.csv, and backup/ while training),
    logs/fold<k>/ (TensorBoard), eval-<split>/metrics.json."""

    root: Path

    @property
    def state(self) -> Path:
        return self.root / RUN_FILE

    @property
    def config(self) -> Path:
        return self.root / "config.yaml"

    def fold(self, k: int) -> Path:
        return self.root / f"fold{k}"

    @staticmethod
    def model_name(k: int) -> str:
        """A fold model's path inside the run, as run.json lists it."""
        return f"fold{k}/model.keras"

    def model(self, k: int) -> Path:
        return self.root / self.model_name(k)

    def history(self, k: int) -> Path:
        """A fold's per-epoch scores (CSV), also what a resumed fold continues."""
        return self.fold(k) / "history.csv"

    def logs(self, k: int) -> Path:
        return self.root / "logs" / f"fold{k}"

    def evaluation(self, split: str) -> Path:
        """Where `lim-tf eval` writes a split's scores by default."""
        return self.root / f"eval-{split}"


@dataclass
class RunState:
    """What a run's models expect and how their outputs are read."""

    band_names: tuple[str, ...]
    threshold: float = DEFAULT_THRESHOLD
    threshold_source: str = "the run's setting"
    resolution: float | None = None  # metres per pixel of the training records (None: not known)
    records: str | None = None  # the training records (None: a shipped model)
    models: list[str] = field(default_factory=list)  # finished models, relative to the run folder
    combine: str = "mean"
    folds: dict[str, FoldSummary] = field(default_factory=dict)  # fold number -> its training summary
    chip_size: int | None = None
    chip_mode: str | None = None
    image_dtype: str | None = None
    manifest_sha256: str | None = None
    init_from: str | None = None  # the model adaptation started from
    zoo: str | None = None  # the shipped model's name, for a zoo model
    architecture: str | None = None
    confidence: dict[str, Any] | None = None  # the polygons' confidence model (lim_tf.trained.confidence), as data
    # Quarter turns averaged at prediction unless asked otherwise: the ones the threshold and the
    # confidence were chosen with.
    turns: int = 1

    def __post_init__(self) -> None:
        self.threshold = tidy_threshold(self.threshold)

    def inference_estimate(self, fold: int | None = None) -> dict[str, float] | None:
        """The prediction memory estimate of the ensemble (or one fold's model) from what training
        saved of each fold, or None where a fold has none (runs trained before it was saved)."""
        folds = self.done_folds() if fold is None else [fold]
        saved = [summary.inference if (summary := self.folds.get(str(k))) else None for k in folds]
        estimates = [s for s in saved if isinstance(s, dict)]
        if not estimates or len(estimates) < len(saved):
            return None
        return {"weight_bytes": sum(s["weight_bytes"] for s in estimates),
                "peak_bytes_per_pixel": max(s["peak_bytes_per_pixel"] for s in estimates)}

    def done_folds(self) -> list[int]:
        """Fold numbers with a finished model, in order."""
        return sorted(int(k) for k, v in self.folds.items() if v.done)

    def record_fold(self, fold: int, summary: FoldSummary) -> None:
        """A fold's training summary; the ensemble and the run's threshold follow the finished folds.

        The run's threshold is where the best epochs' validation F1 peaked (validation holds both
        kinds of chips), averaged over the folds of an ensemble."""
        self.folds[str(fold)] = summary
        self.models = [RunFolder.model_name(k) for k in self.done_folds()]
        chosen = [v.threshold for v in self.folds.values() if v.threshold is not None]
        if chosen:
            self.threshold = tidy_threshold(sum(chosen) / len(chosen))
            self.threshold_source = "F1-optimal on validation folds"

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["band_names"] = list(self.band_names)
        data["folds"] = {k: summary.to_json() for k, summary in self.folds.items()}
        data["ensemble"] = {"combine": data.pop("combine"), "models": data.pop("models")}
        return {key: value for key, value in data.items() if value is not None or key in _ALWAYS}

    @classmethod
    def from_json(cls, data: Any, where: str) -> RunState:
        """A state from run.json's parsed content; a structural problem is an InputError naming `where`."""
        problem = _problem(data)
        if problem:
            raise InputError(f"{where}: {problem}; the run state was edited or damaged: retrain or restore it")
        data = dict(data)
        ensemble = data.pop("ensemble")
        known = {f.name for f in dataclasses.fields(cls)} - {"models", "combine"}
        kept = {key: value for key, value in data.items() if key in known}
        kept["band_names"] = tuple(kept["band_names"])
        kept["folds"] = {k: FoldSummary.from_json(v) for k, v in kept.get("folds", {}).items()}
        return cls(models=list(ensemble["models"]), combine=ensemble.get("combine", "mean"), **kept)

    @classmethod
    def load(cls, run: Path | str) -> RunState:
        """run.json of `run`, checked; a missing or damaged file is a one-line InputError naming it."""
        path = Path(run) / RUN_FILE
        if not Path(run).exists():
            raise InputError(f"{run}: no such file or folder; give a run folder, a .keras file or a shipped model's "
                             "name (lim-tf models)")
        if not path.exists():
            raise InputError(f"{run}: not a training run (no {RUN_FILE}); train one with 'lim-tf train'")
        try:
            data = json.loads(path.read_text())
        except (json.JSONDecodeError, UnicodeDecodeError) as error:
            raise InputError(f"{path}: not valid JSON ({error}); the run state is damaged: retrain or restore it") \
                from error
        except OSError as error:
            raise InputError(f"{path}: cannot read ({error.strerror})") from error
        return cls.from_json(data, str(path))

    def save(self, run: Path | str) -> None:
        """Write run.json whole (renamed into place: a reader never sees half a file)."""
        with atomic_file(Path(run) / RUN_FILE) as temporary:
            temporary.write_text(json.dumps(self.to_json(), indent=2) + "\n")


_ALWAYS = {"threshold", "resolution", "records", "chip_size", "init_from"}  # written even when null


def tidy_threshold(value: float) -> float:
    """A threshold as people read it: 0.42, not the float32 0.41999998688697815 it was chosen in
    (sweeps step by 0.001, so four decimals keep every choice)."""
    return round(float(value), 4)


def resolve_threshold(given: float | None, state: RunState) -> tuple[float, str]:
    """The threshold a stage uses and where it came from: the option if given, else the run's."""
    if given is not None:
        return float(given), "given"
    return state.threshold, state.threshold_source


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _problem(state: Any) -> str | None:
    """What is wrong with a run state's structure, or None."""
    if not isinstance(state, dict):
        return f"expected a JSON object, got a {type(state).__name__}"
    bands = state.get("band_names")
    if not isinstance(bands, list) or not bands or not all(isinstance(b, str) for b in bands):
        return "band_names must be a list of band names"
    records = state.get("records")
    if not (isinstance(records, str) or records is None and "zoo" in state):  # a shipped model has none
        return "records must be the path of the training records"
    threshold = state.get("threshold")
    if not (_number(threshold) and 0 <= threshold <= 1):  # type: ignore[operator]
        return "threshold must be a number in 0..1"
    turns = state.get("turns", 1)
    if type(turns) is not int or not 1 <= turns <= 4:
        return "turns must be 1, 2, 3 or 4"
    resolution = state.get("resolution")
    if resolution is not None and not (_number(resolution) and resolution > 0):
        return "resolution must be a positive number of metres or null"
    ensemble = state.get("ensemble")
    if not isinstance(ensemble, dict) or not isinstance(ensemble.get("models"), list) \
            or not all(isinstance(m, str) for m in ensemble["models"]):
        return "ensemble.models must be a list of model files"
    folds = state.get("folds")
    if not isinstance(folds, dict) or not all(isinstance(v, dict) and isinstance(v.get("status"), str)
                                              for v in folds.values()):
        return "folds must map fold numbers to their status"
    if not all(k.isdigit() for k in folds):
        return "folds must be keyed by fold number"
    for k, fold in folds.items():
        chosen = fold.get("threshold")
        if chosen is not None and not (_number(chosen) and 0 <= chosen <= 1):
            return f"folds.{k}.threshold must be a number in 0..1 or null"
        if fold.get("inference") is not None and not (
                isinstance(fold["inference"], dict)
                and all(_number(fold["inference"].get(key)) for key in ("weight_bytes", "peak_bytes_per_pixel"))):
            return f"folds.{k}.inference must hold weight_bytes and peak_bytes_per_pixel"
    return None
