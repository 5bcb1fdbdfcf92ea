"""Independent reference computations; the seeded writers of test inputs live in lim_tf.testing."""

from __future__ import annotations

import numpy as np

from lim_tf.testing import write_bijie  # noqa: F401  (the tests' historic import)


def bilinear(image: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize with half-pixel centres, written out in numpy."""
    height, width = image.shape[:2]
    ys = np.clip((np.arange(size) + 0.5) * height / size - 0.5, 0, height - 1)
    xs = np.clip((np.arange(size) + 0.5) * width / size - 0.5, 0, width - 1)
    y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    y1, x1 = np.minimum(y0 + 1, height - 1), np.minimum(x0 + 1, width - 1)
    wy, wx = (ys - y0)[:, None, None], (xs - x0)[None, :, None]
    img = image.astype(np.float64)
    return (img[y0][:, x0] * (1 - wy) * (1 - wx) + img[y0][:, x1] * (1 - wy) * wx
            + img[y1][:, x0] * wy * (1 - wx) + img[y1][:, x1] * wy * wx)


def nearest(mask: np.ndarray, size: int) -> np.ndarray:
    """Nearest-neighbour resize with half-pixel centres, written out in numpy."""
    height, width = mask.shape[:2]
    ys = np.minimum(np.floor((np.arange(size) + 0.5) * height / size).astype(int), height - 1)
    xs = np.minimum(np.floor((np.arange(size) + 0.5) * width / size).astype(int), width - 1)
    return mask[ys][:, xs]
