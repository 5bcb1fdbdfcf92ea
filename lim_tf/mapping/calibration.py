"""Windows of the scene itself: they calibrate the int8 network of `map --runtime onnx-int8`, and give
the scene's own band statistics for `map --normalize scene`."""

from __future__ import annotations

import math

import numpy as np

from lim_tf.errors import InputError
from lim_tf.mapping.scene import Scene

CHIPS = 32
SIDE = 256  # pixels on the grid the model maps at: a multiple of the network's 32


def calibration_chips(scene: Scene, count: int = CHIPS, side: int = SIDE) -> list[np.ndarray]:
    """Up to `count` windows of `side` pixels ([side, side, bands]) spread over the whole scene, each
    at least half valid where it lies inside the scene (see `windows`)."""
    return [image for image, _ in windows(scene, count, side)]


def windows(scene: Scene, count: int = CHIPS, side: int = SIDE) -> list[tuple[np.ndarray, np.ndarray]]:
    """Up to `count` (image, valid) windows of `side` pixels spread over the whole scene, each at
    least half valid where it lies inside the scene.

    The candidates form a grid over the scene, taken in a fixed random order, so the quantiser sees
    the scene's ground types and light rather than its first rows, and a scene gives the same
    chips (and the same int8 network) on every run and every worker."""
    height, width = scene.shape
    per_axis = math.ceil(math.sqrt(4 * count))  # four candidates a chip, for nodata and cloud
    rows = np.unique(np.linspace(0, max(height - side, 0), per_axis).round().astype(int))
    cols = np.unique(np.linspace(0, max(width - side, 0), per_axis).round().astype(int))
    candidates = [(int(r), int(c)) for r in rows for c in cols]
    chips: list[tuple[np.ndarray, np.ndarray]] = []
    for index in np.random.default_rng(0).permutation(len(candidates)):
        row, col = candidates[index]
        image, valid = scene.read(row, col, side, side)
        if valid.sum() >= 0.5 * min(side, height - row) * min(side, width - col):
            chips.append((image, valid))
            if len(chips) == count:
                break
    if not chips:
        raise InputError(f"{scene.dataset.name}: no window of {side} pixels holds enough valid data to calibrate "
                         "the int8 network; map with --runtime onnx")
    return chips


STATISTICS_WINDOWS = 64  # windows of SIDE pixels: the scene's light, read in a second or two


def scene_radiometry(scene: Scene, mean: tuple[float, ...],
                     std: tuple[float, ...]) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per band (gain, offset) that give the scene's valid pixels the training imagery's `mean` and
    `std` (what the model's normalisation expects), from windows spread over the scene."""
    sampled = windows(scene, STATISTICS_WINDOWS)
    pixels = np.concatenate([image[valid] for image, valid in sampled])
    own_mean, own_std = pixels.mean(axis=0), np.maximum(pixels.std(axis=0), 1e-6)
    gain = np.asarray(std) / own_std
    return tuple(float(g) for g in gain), tuple(float(o) for o in np.asarray(mean) - gain * own_mean)
