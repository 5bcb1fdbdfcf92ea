"""The run folder's state file (run.json): written by training, read by every later stage.

Every reader goes through `read_state`, which checks the keys the stages rely on and names the
file in its one-line error, so a damaged or hand-edited run.json never surfaces as a traceback.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from lim_tf.errors import InputError

RUN_FILE = "run.json"


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _problem(state: Any) -> str | None:
    """What is wrong with a run state's structure, or None."""
    if not isinstance(state, dict):
        return f"expected a JSON object, got a {type(state).__name__}"
    bands = state.get("band_names")
    if not isinstance(bands, list) or not bands or not all(isinstance(b, str) for b in bands):
        return "band_names must be a list of band names"
    if not isinstance(state.get("records"), str):
        return "records must be the path of the training records"
    threshold = state.get("threshold")
    if not (_number(threshold) and 0 <= threshold <= 1):
        return "threshold must be a number in 0..1"
    resolution = state.get("resolution")
    if resolution is not None and not (_number(resolution) and resolution > 0):
        return "resolution must be a positive number of metres or null"
    ensemble = state.get("ensemble")
    if not isinstance(ensemble, dict) or not isinstance(ensemble.get("models"), list) \
            or not all(isinstance(m, str) for m in ensemble["models"]):
        return "ensemble.models must be a list of model files"
    folds = state.get("folds")
    if not isinstance(folds, dict) or not all(isinstance(v, dict) and "status" in v for v in folds.values()):
        return "folds must map fold numbers to their status"
    return None


def read_state(run: Path) -> dict[str, Any]:
    """run.json of `run`, checked; a missing or damaged file is a one-line InputError naming it."""
    path = Path(run) / RUN_FILE
    if not path.exists():
        raise InputError(f"{run}: not a training run (no {RUN_FILE}); train one with 'lim-tf train'")
    try:
        state = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: not valid JSON ({error}); the run state is damaged: retrain or restore it") from error
    except OSError as error:
        raise InputError(f"{path}: cannot read ({error.strerror})") from error
    problem = _problem(state)
    if problem:
        raise InputError(f"{path}: {problem}; the run state was edited or damaged: retrain or restore it")
    return state
