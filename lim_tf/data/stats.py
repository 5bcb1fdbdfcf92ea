"""Pixel counts, the imbalance ratio and per-band statistics."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from lim_tf.data.manifest import BandStatistics
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


def band_sums(chip: Chip) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """Per band over labelled pixels: sum, sum of squares, min and max (float64), and the count."""
    pixels = chip.image[chip.mask != IGNORE].astype(np.float64)
    if not len(pixels):
        bands = chip.image.shape[-1]
        return np.zeros(bands), np.zeros(bands), np.full(bands, np.inf), np.full(bands, -np.inf), 0
    return pixels.sum(axis=0), np.square(pixels).sum(axis=0), pixels.min(axis=0), pixels.max(axis=0), len(pixels)


def band_statistics(chips: Iterable[Chip], band_names: tuple[str, ...]) -> tuple[BandStatistics, ...]:
    """Mean, standard deviation, min and max per band over labelled (not ignored) pixels."""
    return combine_band_sums([band_sums(chip) for chip in chips], band_names)


def combine_band_sums(partials: Iterable[tuple], band_names: tuple[str, ...]) -> tuple[BandStatistics, ...]:
    """Band statistics from per-chip (sum, sum of squares, min, max, count), summed in the order
    given: the same order gives the same bits wherever the partials were computed."""
    bands = len(band_names)
    total, squares = np.zeros(bands), np.zeros(bands)
    low, high = np.full(bands, np.inf), np.full(bands, -np.inf)
    count = 0
    for chip_total, chip_squares, chip_low, chip_high, chip_count in partials:
        if not chip_count:
            continue
        total += chip_total
        squares += chip_squares
        low, high = np.minimum(low, chip_low), np.maximum(high, chip_high)
        count += chip_count
    mean = total / max(count, 1)
    std = np.sqrt(np.maximum(squares / max(count, 1) - mean**2, 0.0))
    return tuple(BandStatistics(name, float(m), float(s), float(lo), float(hi))
                 for name, m, s, lo, hi in zip(band_names, mean, std, low, high))
