"""The record schema: chips round-trip bit for bit, and pixels computed in floating point return to a
dtype the records hold."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf

from lim_tf.data.sample import Chip
from lim_tf.data.schema import decode_chip, encode_chip, parse_example, to_record_dtype


def _chip(image: np.ndarray) -> Chip:
    mask = np.zeros(image.shape[:2], np.uint8)
    mask[0, 0], mask[-1, -1] = 1, 255
    return Chip(image, mask, "ls_1#0", "ls_1", "bijie", tuple(f"b{i}" for i in range(image.shape[2])), 3, "none")


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_a_chip_round_trips_exactly(dtype):
    rng = np.random.default_rng(0)
    image = (rng.random((5, 7, 3)) * 1000).astype(dtype)
    back = decode_chip(encode_chip(_chip(image)))
    assert back.image.dtype == dtype and back.image.tobytes() == image.tobytes()
    assert back.mask.tolist() == _chip(image).mask.tolist()
    assert (back.chip_id, back.origin_id, back.fold, back.band_names) == ("ls_1#0", "ls_1", 3, ("b0", "b1", "b2"))


def test_the_graph_parser_reads_what_the_encoder_wrote():
    image = np.arange(5 * 7 * 2, dtype=np.uint16).reshape(5, 7, 2)
    parsed = parse_example(tf.constant(encode_chip(_chip(image))), tf.uint16, 2)
    assert parsed["image"].numpy().tolist() == image.tolist()
    assert bool(parsed["is_landslide"]) and not bool(parsed["augmented"])


def test_integers_are_rounded_and_clipped_to_their_range():
    values = np.array([-3.0, 0.49, 0.5, 1.5, 254.6, 300.0])
    # numpy rounds half to even: 0.5 -> 0, 1.5 -> 2
    assert to_record_dtype(values, np.dtype(np.uint8)).tolist() == [0, 0, 0, 2, 255, 255]
    assert to_record_dtype(values, np.dtype(np.uint8)).dtype == np.uint8
    assert to_record_dtype(np.array([70000.0]), np.dtype(np.uint16)).tolist() == [65535]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_floats_become_float32_the_only_float_the_records_hold(dtype):
    out = to_record_dtype(np.array([0.25, -1.5]), np.dtype(dtype))
    assert out.dtype == np.float32 and out.tolist() == [0.25, -1.5]
