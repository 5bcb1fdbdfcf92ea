"""Pixel counts, IR and band statistics against numpy computed independently."""

from __future__ import annotations

import numpy as np

from lim_tf.data.sample import BACKGROUND, IGNORE, LANDSLIDE, Chip
from lim_tf.data.stats import PixelCounts, band_statistics, band_sums, combine_band_sums, count_pixels


def _chip(seed: int) -> Chip:
    rng = np.random.default_rng(seed)
    mask = rng.choice([BACKGROUND, LANDSLIDE, IGNORE], (9, 7), p=[0.6, 0.3, 0.1]).astype(np.uint8)
    return Chip(rng.integers(0, 256, (9, 7, 2)).astype(np.uint8), mask, f"c{seed}", f"c{seed}", "t", ("a", "b"))


def test_counts_and_the_imbalance_ratio():
    chips = [_chip(s) for s in range(3)]
    total = count_pixels(chips)
    masks = np.stack([c.mask for c in chips])
    assert (total.landslide, total.background) == ((masks == 1).sum(), (masks == 0).sum())
    assert total.imbalance_ratio == (masks == 0).sum() / (masks == 1).sum()
    assert PixelCounts(0, 10).imbalance_ratio is None and PixelCounts(2, 3) + PixelCounts(1, 1) == PixelCounts(3, 4)


def test_band_statistics_cover_labelled_pixels_only():
    chips = [_chip(s) for s in range(4)]
    pixels = np.concatenate([c.image[c.mask != IGNORE] for c in chips]).astype(np.float64)
    stats = band_statistics(chips, ("a", "b"))
    np.testing.assert_allclose([s.mean for s in stats], pixels.mean(axis=0))
    np.testing.assert_allclose([s.std for s in stats], pixels.std(axis=0))
    assert [s.min for s in stats] == list(pixels.min(axis=0)) and [s.max for s in stats] == list(pixels.max(axis=0))
    # Partials combined in another grouping give the same numbers (what Dask workers rely on).
    assert combine_band_sums([band_sums(c) for c in chips], ("a", "b")) == stats
