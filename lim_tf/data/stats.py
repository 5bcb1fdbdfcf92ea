"""Pixel counts, the imbalance ratio and per-band statistics."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from lim_tf.data.sample import BACKGROUND, IGNORE, LANDSLIDE, Chip


@dataclass(frozen=True)
class PixelCounts:
    """Labelled pixels by class; ignored pixels count neither way."""

    landslide: int = 0
    background: int = 0

    @property
    def imbalance_ratio(self) -> float | None:
        """IR = non-landslide pixels / landslide pixels; None when there are no landslide pixels."""
        return self.background / self.landslide if self.landslide else None

    def __add__(self, other: "PixelCounts") -> "PixelCounts":
        return PixelCounts(self.landslide + other.landslide, self.background + other.background)


def chip_counts(chip: Chip) -> PixelCounts:
    """Pixel counts of one chip."""
    return PixelCounts(int(np.count_nonzero(chip.mask == LANDSLIDE)),
                       int(np.count_nonzero(chip.mask == BACKGROUND)))


def count_pixels(chips: Iterable[Chip]) -> PixelCounts:
    """Pixel counts summed over chips."""
    return sum((chip_counts(chip) for chip in chips), PixelCounts())


def band_statistics(chips: Iterable[Chip], band_names: tuple[str, ...]) -> list[dict]:
    """Mean, standard deviation, min and max per band over labelled (not ignored) pixels."""
    bands = len(band_names)
    total = np.zeros(bands)
    squares = np.zeros(bands)
    low = np.full(bands, np.inf)
    high = np.full(bands, -np.inf)
    count = 0
    for chip in chips:
        pixels = chip.image[chip.mask != IGNORE].astype(np.float64)
        if not len(pixels):
            continue
        total += pixels.sum(axis=0)
        squares += np.square(pixels).sum(axis=0)
        low = np.minimum(low, pixels.min(axis=0))
        high = np.maximum(high, pixels.max(axis=0))
        count += len(pixels)
    mean = total / max(count, 1)
    std = np.sqrt(np.maximum(squares / max(count, 1) - mean**2, 0.0))
    return [{"name": name, "mean": float(m), "std": float(s), "min": float(lo), "max": float(hi)}
            for name, m, s, lo, hi in zip(band_names, mean, std, low, high)]
