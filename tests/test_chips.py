"""data/chips.py: samples become chips whole, on a grid (padded with ignore), resampled, or resized."""

from __future__ import annotations

import numpy as np
import pytest

from lim_tf.config import ChipConfig
from lim_tf.data.chips import make_chips, resample, resize_mask
from lim_tf.data.sample import IGNORE, Sample
from lim_tf.errors import InputError


def _sample(height: int, width: int, resolution: float | None = 0.8) -> Sample:
    image = np.arange(height * width * 3, dtype=np.uint16).reshape(height, width, 3)
    mask = np.zeros((height, width), np.uint8)
    mask[: height // 2] = 1
    return Sample(image, mask, "s1", "bijie", ("red", "green", "blue"), resolution, "s1.png")


def test_a_grid_cuts_every_pixel_once_and_pads_the_edges_with_ignore() -> None:
    sample = _sample(50, 30)
    chips = list(make_chips(sample, ChipConfig(mode="grid", size=20)))
    assert [c.chip_id for c in chips] == [f"s1_r{r}_c{c}" for r in (0, 20, 40) for c in (0, 20)]
    assert {c.origin_id for c in chips} == {"s1"}  # folds keep a sample's chips together
    image = np.zeros((60, 40, 3), np.uint16)
    mask = np.full((60, 40), 77, np.uint8)
    for chip in chips:
        row, col = (int(part[1:]) for part in chip.chip_id.split("_")[1:])
        image[row:row + 20, col:col + 20], mask[row:row + 20, col:col + 20] = chip.image, chip.mask
    assert np.array_equal(image[:50, :30], sample.image) and np.array_equal(mask[:50, :30], sample.mask)
    assert (mask[50:] == IGNORE).all() and (mask[:, 30:] == IGNORE).all() and (image[50:] == 0).all()


def test_a_sample_of_exactly_one_chip_keeps_its_id() -> None:
    [chip] = make_chips(_sample(20, 20), ChipConfig(mode="grid", size=20))
    assert chip.chip_id == "s1"


def test_native_chips_are_resampled_to_the_asked_ground_resolution() -> None:
    sample = _sample(40, 20, resolution=0.8)
    [chip] = make_chips(sample, ChipConfig(mode="native", resolution=1.6))
    assert chip.image.shape == (20, 10, 3) and chip.image.dtype == np.uint16
    assert chip.mask.shape == (20, 10) and chip.mask[:10].all() and not chip.mask[10:].any()
    # within the tolerance the sample is left as it is
    assert resample(sample, 0.8 * 1.001) is sample


def test_a_sample_of_unknown_pixel_size_cannot_be_resampled() -> None:
    with pytest.raises(InputError, match="s1: its pixel size is unknown.*--source-resolution"):
        resample(_sample(8, 8, resolution=None), 1.0)


def test_resize_mode_gives_the_paper_s_square_chips_and_masks_keep_class_values() -> None:
    [chip] = make_chips(_sample(30, 50), ChipConfig(mode="resize", size=16))
    assert chip.image.shape == (16, 16, 3) and chip.mask.shape == (16, 16)
    mask = np.array([[0, 1, IGNORE], [1, 0, 1]], np.uint8)
    assert set(np.unique(resize_mask(mask, 7, 5)).tolist()) <= {0, 1, IGNORE}
    assert np.array_equal(resize_mask(mask, 4, 6), np.repeat(np.repeat(mask, 2, 0), 2, 1))
