"""Windows of the scene itself that calibrate the int8 network of `map --runtime onnx-int8`."""

from __future__ import annotations

import math

import numpy as np

from lim_tf.errors import InputError
from lim_tf.mapping.scene import Scene

CHIPS = 32
SIDE = 256  # pixels on the grid the model maps at: a multiple of the network's 32


def calibration_chips(scene: Scene, count: int = CHIPS, side: int = SIDE) -> list[np.ndarray]:
    """Up to `count` windows of `side` pixels ([side, side, bands]) spread over the whole scene, each
    at least half valid where it lies inside the scene.

    The candidates form a grid over the scene, taken in a fixed random order, so the quantiser sees
    the scene's ground types and light rather than its first rows, and a scene gives the same
    chips (and the same int8 network) on every run and every worker."""
    height, width = scene.shape
    per_axis = math.ceil(math.sqrt(4 * count))  # four candidates a chip, for nodata and cloud
    rows = np.unique(np.linspace(0, max(height - side, 0), per_axis).round().astype(int))
    cols = np.unique(np.linspace(0, max(width - side, 0), per_axis).round().astype(int))
    candidates = [(int(r), int(c)) for r in rows for c in cols]
    chips = []
    for index in np.random.default_rng(0).permutation(len(candidates)):
        row, col = candidates[index]
        image, valid = scene.read(row, col, side, side)
        if valid.sum() >= 0.5 * min(side, height - row) * min(side, width - col):
            chips.append(image)
            if len(chips) == count:
                break
    if not chips:
        raise InputError(f"{scene.dataset.name}: no window of {side} pixels holds enough valid data to calibrate "
                         "the int8 network; map with --runtime onnx")
    return chips
