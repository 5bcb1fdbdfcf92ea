"""`map --runtime auto`: what runs the network, chosen by timing it on this machine.

TensorFlow, ONNX Runtime (float32) and its int8 graph are each timed on a batch of the scene's own
tile shape; the choice adds what each must do before its first tile (converting the network, which
the cache then spares; calibrating int8 on the scene) to the time the scene's batches would take, so
a small scene stays on TensorFlow. Timings are remembered per machine, model and tile
(lim_tf.runtime.measured): the other runtimes are timed only on a scene large enough to repay their
conversion, and a scene of a few batches is never timed at all.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lim_tf.runtime.measured import Measurements

RUNTIMES = ("tensorflow", "onnx", "onnx-int8")
FEW_BATCHES = 4  # a scene this small maps on TensorFlow untimed: timing would cost as much as mapping
REPAY = 3.0  # time the others only where TensorFlow would take this many times their expected set-up
EXPECTED_SETUP = 15.0  # seconds to convert and calibrate, before it was measured here


@dataclass(frozen=True)
class RuntimeChoice:
    """The runtime `map` uses, why, and the timings behind it."""

    runtime: str
    reason: str
    batch_seconds: dict[str, float] = field(default_factory=dict)
    setup_seconds: dict[str, float] = field(default_factory=dict)


def model_identity(model_path: Path | str) -> str:
    """A digest of the model's files (run folder models, a .keras file, or a shipped model's weights):
    the key its timings are remembered under, known without loading it."""
    from lim_tf.trained.run import RunState
    from lim_tf.zoo import is_zoo_name, weights_path

    path = Path(str(model_path))
    files = [weights_path(str(model_path))] if is_zoo_name(model_path) else \
        [path / name for name in RunState.load(path).models] if path.is_dir() else [path]
    hasher = hashlib.sha256()
    for file in files:
        hasher.update(file.read_bytes())
    return hasher.hexdigest()


def choose_runtime(model: str, tile: tuple[int, int, int], batches: int, store: Measurements,
                   time_batch: Callable[[str], float], setup: Callable[[str], float],
                   cached: Callable[[str], bool] = lambda runtime: False,
                   allowed: tuple[str, ...] = RUNTIMES) -> RuntimeChoice:
    """The runtime that maps `batches` batches of `tile` (batch, height, width) soonest for `model`
    (its identity). `time_batch(runtime)` times one batch (building the runtime if needed: onnx
    before onnx-int8), `setup(runtime)` the set-up that took (for int8 beyond onnx's: the calibration
    and quantisation), `cached("onnx")` whether the converted network is in the cache."""
    if allowed == ("tensorflow",):
        return RuntimeChoice("tensorflow", "ONNX Runtime's larger memory arena would not fit in the free memory")
    key = (model, f"map tile {tile}")
    record = store.load("runtime", *key)
    seconds: dict[str, float] = dict(record.get("batch_seconds", {}))
    setups: dict[str, float] = dict(record.get("setup_seconds", {}))
    if batches <= FEW_BATCHES and not set(allowed) <= set(seconds):
        return RuntimeChoice("tensorflow", f"{batches} batches of tiles: too few to repay timing the runtimes")
    if "tensorflow" not in seconds:
        seconds["tensorflow"] = time_batch("tensorflow")
    tensorflow = batches * seconds["tensorflow"]
    untimed = [r for r in allowed if r not in seconds]
    if untimed and tensorflow < REPAY * EXPECTED_SETUP:
        store.save({"batch_seconds": seconds, "setup_seconds": setups}, "runtime", *key)
        return RuntimeChoice("tensorflow", f"TensorFlow maps the scene in about {tensorflow:.0f} s, too little to "
                             "repay converting the network to time ONNX Runtime", seconds)
    for runtime in untimed:
        seconds[runtime] = time_batch(runtime)
        setups[runtime] = setup(runtime)
    if untimed:
        store.save({"batch_seconds": seconds, "setup_seconds": setups}, "runtime", *key)
    # Left to do before the first tile: nothing for TensorFlow or a runtime built in this call to time
    # it; else the conversion, unless cached, and for int8 the calibration on this scene besides.
    convert = 0.0 if cached("onnx") else setups.get("onnx", EXPECTED_SETUP)
    remaining = {"tensorflow": 0.0, "onnx": convert, "onnx-int8": convert + setups.get("onnx-int8", EXPECTED_SETUP)}
    remaining.update(dict.fromkeys(untimed, 0.0))
    total = {r: remaining[r] + batches * seconds[r] for r in allowed}
    best = min(allowed, key=lambda r: (total[r], RUNTIMES.index(r)))  # a tie stays on TensorFlow
    timings = ", ".join(f"{r} {total[r]:.1f} s ({seconds[r]:.2f} s a batch)" for r in sorted(allowed, key=total.__getitem__))
    source = "timed here now" if untimed else "timed on this machine before"
    return RuntimeChoice(best, f"fastest for {batches} batches, {source}: {timings}", seconds, setups)


def batch_timer(images: np.ndarray, build: Callable[[str], Any], repeats: int = 2) -> Callable[[str], float]:
    """time_batch for choose_runtime: seconds per prediction of `images` by the runtime `build`
    returns, after one untimed call (tracing, first allocations)."""
    def time_batch(runtime: str) -> float:
        predictor = build(runtime)
        predictor.predict_members(images)
        start = time.perf_counter()
        for _ in range(repeats):
            predictor.predict_members(images)
        return (time.perf_counter() - start) / repeats

    return time_batch


def remembered_runtime(model: str, tile: tuple[int, int, int], batches: int, store: Measurements,
                       cached: Callable[[str], bool] = lambda runtime: False) -> RuntimeChoice:
    """`auto` for work handed to Dask workers, from the timings remembered on this machine alone (a
    client times nothing: only workers load the model); TensorFlow where none are remembered yet."""
    record = store.load("runtime", model, f"map tile {tile}")
    if set(RUNTIMES) - set(record.get("batch_seconds", {})):
        return RuntimeChoice("tensorflow", "the runtimes were not timed on this machine for this model and tile yet "
                             "(a map of one scene in this process times them and remembers)")

    def untimed(runtime: str) -> float:
        raise AssertionError(f"{runtime} was remembered")

    return choose_runtime(model, tile, batches, store, untimed, untimed, cached)
