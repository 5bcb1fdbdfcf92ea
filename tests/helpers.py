"""Small writers of seeded test inputs, and independent reference computations."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def write_bijie(root: Path, landslides: int, backgrounds: int, seed: int = 0, even: bool = False) -> Path:
    """Random RGB chips of 20..59 px (even sizes if asked); each landslide mask is a rectangle of 255 on 0."""
    rng = np.random.default_rng(seed)
    for folder in ("landslide/image", "landslide/mask", "non-landslide/image"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    for i in range(landslides + backgrounds):
        height, width = (int(v) // (2 if even else 1) * (2 if even else 1) for v in rng.integers(20, 60, 2))
        image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        if i < landslides:
            mask = np.zeros((height, width), np.uint8)
            r, c = rng.integers(0, height // 2), rng.integers(0, width // 2)
            mask[r:r + height // 3, c:c + width // 3] = 255
            Image.fromarray(image).save(root / f"landslide/image/ls_{i:03d}.png")
            Image.fromarray(mask).save(root / f"landslide/mask/ls_{i:03d}.png")
        else:
            Image.fromarray(image).save(root / f"non-landslide/image/nls_{i:03d}.png")
    return root


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
