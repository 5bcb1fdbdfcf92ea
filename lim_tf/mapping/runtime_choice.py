"""`map --runtime auto`: what runs the network, chosen by timing it on this machine.

TensorFlow, ONNX Runtime (float32) and its int8 graph are each timed on one sample window (up to
SAMPLE_SIDE pixels square, random pixels); the scene's time is that speed per pixel times the pixels
its tiles read, margins included, and the choice adds what each runtime must do before its first
tile (converting the network, which the cache then spares; calibrating int8 on the scene), so a
small scene stays on TensorFlow. The speeds are remembered per machine, model and sample, so one
timing serves scenes of every size. Nothing is timed on the first map of a model on a machine: it
runs on TensorFlow, whose speed over the whole map is remembered; the other runtimes are timed only
on a later scene that TensorFlow would take long enough on to repay setting them up.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from lim_tf.runtime.measured import Measurements

RUNTIMES = ("tensorflow", "onnx", "onnx-int8")
# Timed on a window this large, random pixels, network alone: the shipped `bijie` on a Zen 4 took
# 1.12 s a megapixel in TensorFlow and 0.57 in int8, and its map stage of a 17-Mpx scene (the same
# tiles with reading, resampling and writing besides) 1.66 and 1.07-1.12 s.
SAMPLE_SIDE = 1024
REPAY = 3.0  # time the others only where TensorFlow would take this many times their expected set-up
# Seconds to convert the network and to calibrate int8, before they were measured here (the shipped
# `bijie`: 4.6 and 1.0 s on a Zen 4, 4.5 s together on an Intel Xeon; rounded up for slower CPUs).
EXPECTED_CONVERT = 6.0
EXPECTED_CALIBRATE = 2.0


@dataclass(frozen=True)
class RuntimeChoice:
    """The runtime `map` uses, why, and the timings behind it."""

    runtime: str
    reason: str
    sample_seconds: dict[str, float] = field(default_factory=dict)
    setup_seconds: dict[str, float] = field(default_factory=dict)


def timing_sample(batches: Sequence[Sequence[Any]]) -> tuple[tuple[int, int, int], int]:
    """The sample window's shape (1, height, width) for a scene's planned batches of tiles, and the
    pixels those tiles read (what the network predicts, margins included)."""
    pixels = sum(tile.height * tile.width for batch in batches for tile in batch)
    height = max(tile.height for batch in batches for tile in batch)
    width = max(tile.width for batch in batches for tile in batch)
    return (1, min(height, SAMPLE_SIDE), min(width, SAMPLE_SIDE)), pixels


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


def choose_runtime(model: str, sample: tuple[int, int, int], pixels: int, store: Measurements,
                   time_sample: Callable[[str], float], setup: Callable[[str], float],
                   cached: Callable[[str], bool] = lambda runtime: False,
                   allowed: tuple[str, ...] = RUNTIMES) -> RuntimeChoice:
    """The runtime that predicts `pixels` pixels soonest for `model` (its identity), from the time
    each takes on a `sample` (batch, height, width). `time_sample(runtime)` times one sample
    (building the runtime if needed: onnx before onnx-int8), `setup(runtime)` the set-up that took
    (for int8 beyond onnx's: the calibration and quantisation), `cached("onnx")` whether the
    converted network is in the cache."""
    if allowed == ("tensorflow",):
        return RuntimeChoice("tensorflow", "ONNX Runtime's larger memory arena would not fit in the free memory")
    key = (model, f"map sample {sample}")
    record = store.load("runtime", *key)
    seconds: dict[str, float] = dict(record.get("sample_seconds", {}))
    setups: dict[str, float] = dict(record.get("setup_seconds", {}))
    window = sample[0] * sample[1] * sample[2]  # pixels a sample holds
    samples = pixels / window
    megapixels = f"{pixels / 1e6:.1f} Mpx"
    untimed = [r for r in allowed if r not in seconds]
    convert = 0.0 if cached("onnx") else setups.get("onnx", EXPECTED_CONVERT)
    if untimed:
        # Timing costs a few samples' predictions in each runtime: worth it only where TensorFlow,
        # at the speed an earlier map of this model measured, would take a while.
        rate = store.load("runtime", model, "map rate").get("tensorflow")
        if "tensorflow" in seconds:
            rate = seconds["tensorflow"] / window
        if rate is None:
            return RuntimeChoice("tensorflow", "the first map of this model here: TensorFlow, timed as it maps, "
                                 "tells whether timing the other runtimes repays on the next")
        if pixels * rate < REPAY * (convert + setups.get("onnx-int8", EXPECTED_CALIBRATE)):
            return RuntimeChoice("tensorflow", f"TensorFlow predicts the {megapixels} in about {pixels * rate:.0f} s, "
                                 "too little to repay setting up ONNX Runtime to time it")
    for runtime in untimed:
        seconds[runtime] = time_sample(runtime)
        if runtime != "tensorflow":  # TensorFlow needs no set-up
            setups[runtime] = setup(runtime)
    if untimed:
        store.save({"sample_seconds": seconds, "setup_seconds": setups}, "runtime", *key)
    # Left to do before the first tile: nothing for TensorFlow or a runtime built in this call to time
    # it; else the conversion, unless cached, and for int8 the calibration on this scene besides.
    remaining = {"tensorflow": 0.0, "onnx": convert,
                 "onnx-int8": convert + setups.get("onnx-int8", EXPECTED_CALIBRATE)}
    remaining.update(dict.fromkeys(untimed, 0.0))
    total = {r: remaining[r] + samples * seconds[r] for r in allowed}
    best = min(allowed, key=lambda r: (total[r], RUNTIMES.index(r)))  # a tie stays on TensorFlow
    per_megapixel = {r: seconds[r] / window * 1e6 for r in allowed}
    timings = ", ".join(f"{r} {total[r]:.1f} s ({per_megapixel[r]:.2f} s a Mpx)"
                        for r in sorted(allowed, key=total.__getitem__))
    source = "timed here now" if untimed else "timed on this machine before"
    return RuntimeChoice(best, f"fastest for {megapixels}, {source}: {timings}", seconds, setups)


def remember_rate(store: Measurements, model: str, seconds: float, pixels: int) -> None:
    """Remember how fast TensorFlow mapped `pixels` pixels of this model (prediction and writing):
    what decides whether timing the other runtimes repays on a later scene."""
    if pixels > 0 and seconds > 0:
        store.save({"tensorflow": seconds / pixels}, "runtime", model, "map rate")


def sample_timer(images: np.ndarray, build: Callable[[str], Any], repeats: int = 1) -> Callable[[str], float]:
    """time_sample for choose_runtime: seconds per prediction of `images` by the runtime `build`
    returns, after one untimed call (tracing, first allocations)."""
    def time_sample(runtime: str) -> float:
        predictor = build(runtime)
        predictor.predict_members(images)
        start = time.perf_counter()
        for _ in range(repeats):
            predictor.predict_members(images)
        return (time.perf_counter() - start) / repeats

    return time_sample


def remembered_runtime(model: str, sample: tuple[int, int, int], pixels: int, store: Measurements,
                       cached: Callable[[str], bool] = lambda runtime: False) -> RuntimeChoice:
    """`auto` for work handed to Dask workers, from the timings remembered on this machine alone (a
    client times nothing: only workers load the model); TensorFlow where none are remembered yet."""
    record = store.load("runtime", model, f"map sample {sample}")
    if set(RUNTIMES) - set(record.get("sample_seconds", {})):
        return RuntimeChoice("tensorflow", "the runtimes were not timed on this machine for this model yet "
                             "(a map of one large scene in this process times them and remembers)")

    def untimed(runtime: str) -> float:
        raise AssertionError(f"{runtime} was remembered")

    return choose_runtime(model, sample, pixels, store, untimed, untimed, cached)
