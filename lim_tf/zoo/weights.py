"""Model weights without optimizer state, one HDF5 dataset per variable, floats stored as float16."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

from lim_tf.errors import InputError
from lim_tf.runtime.quiet import keras


def _keys(model: keras.Model) -> list[tuple[str, keras.Variable]]:
    # Variable paths ("block1_conv1/kernel") name each weight whatever the precision policy.
    return [(variable.path, variable) for variable in model.weights if "seed_generator" not in variable.path]


def save_weights(model: keras.Model, path: Path, dtype: str = "float16") -> None:
    """Write every weight to `path`: convolution kernels (nearly all of the bytes) as `dtype`, the rest
    (biases, batch-normalisation statistics, whose rounding moves predictions most) as float32."""
    with h5py.File(path, "w") as file:
        for key, variable in _keys(model):
            value = keras.ops.convert_to_numpy(variable)
            if np.issubdtype(value.dtype, np.floating):
                value = value.astype(dtype if value.ndim >= 2 else "float32")
            file.create_dataset(key, data=value)


def load_weights(model: keras.Model, path: Path) -> None:
    """Assign every weight of `model` from `path`; a missing, extra or misshapen weight is an error."""
    try:
        file = h5py.File(path, "r")
    except OSError as error:
        raise InputError(f"{path}: cannot read the weights ({error}); reinstall lim-tf") from error
    with file:
        stored: set[str] = set()
        file.visit(lambda key: stored.add(key) if isinstance(file[key], h5py.Dataset) else None)
        wanted = dict(_keys(model))
        if stored != set(wanted):
            missing, extra = sorted(set(wanted) - stored), sorted(stored - set(wanted))
            raise InputError(f"{path}: weights do not match the architecture (missing {missing[:3]}, "
                             f"extra {extra[:3]})")
        for key, variable in wanted.items():
            value = file[key][()]
            if value.shape != tuple(variable.shape):
                raise InputError(f"{path}: {key} has shape {value.shape}, the model wants {tuple(variable.shape)}")
            variable.assign(value.astype(variable.dtype))
