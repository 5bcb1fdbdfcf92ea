"""Figures people read: colour keys, a readable size and a scale bar of a round length."""

import numpy as np
import pytest
from PIL import Image

from lim_tf.figures import FN, FP, READABLE, TP, overlay_png, scale_bar


@pytest.mark.parametrize("width, metres, expected", [(1000, 1.0, (200, "200 m")), (1000, 0.3, (167, "50 m")),
                                                     (500, 20.0, (100, "2 km")), (64, 0.8, (12, "10 m"))])
def test_scale_bars_are_a_round_length_near_a_fifth_of_the_width(width, metres, expected):
    assert scale_bar(width, metres) == expected


def test_overlays_are_enlarged_and_carry_their_colour_key(tmp_path):
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (40, 50, 3)).astype(np.uint8)
    truth = np.zeros((40, 50), bool)
    truth[5:20, 5:20] = True
    overlay_png(image, truth, np.zeros_like(truth), tmp_path / "o.png")
    figure = np.asarray(Image.open(tmp_path / "o.png").convert("RGB"))
    assert figure.shape[1] >= READABLE
    strip = figure[-30:].reshape(-1, 3)  # the key below the panels: a swatch of each colour
    for colour in (TP, FP, FN):
        assert (strip == colour).all(axis=1).any(), colour
