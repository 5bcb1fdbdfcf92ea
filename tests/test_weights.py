"""Shipped weights: kernels stored as float16 within rounding of the float32 weights, everything else
exact, and weights of another architecture refused."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from lim_tf.errors import InputError
from lim_tf.models import ModelConfig, build_model
from lim_tf.zoo.weights import load_weights, save_weights


def _model(width: float = 1 / 16):
    return build_model(ModelConfig(name="unet", bands=3, width=width, mean=(100.0,) * 3, std=(40.0,) * 3,
                                   batch_norm=True))


def test_weights_round_trip_within_float16_rounding(tmp_path):
    source, target = _model(), _model()
    save_weights(source, tmp_path / "w.h5")
    kinds: list[tuple[int, str]] = []
    with h5py.File(tmp_path / "w.h5") as file:
        file.visititems(lambda _, item: kinds.append((item.ndim, item.dtype.name)) if isinstance(item, h5py.Dataset)
                        else None)
    assert {d for n, d in kinds if n >= 2} == {"float16"} and {d for n, d in kinds if n < 2} <= {"float32", "int64"}
    load_weights(target, tmp_path / "w.h5")
    for a, b in zip(source.get_weights(), target.get_weights()):
        if a.ndim >= 2:
            np.testing.assert_allclose(b, a.astype(np.float16).astype(np.float32))  # what float16 keeps, exactly
        else:
            np.testing.assert_array_equal(a, b)


def test_weights_of_another_architecture_are_refused(tmp_path):
    save_weights(_model(), tmp_path / "w.h5")
    with pytest.raises(InputError, match="do not match the architecture|has shape"):
        load_weights(_model(width=1 / 8), tmp_path / "w.h5")
    with pytest.raises(InputError, match="cannot read the weights"):
        load_weights(_model(), tmp_path / "missing.h5")
