"""Landslide4Sense HDF5 patches: img/image_N.h5 (key 'img') and mask/mask_N.h5 (key 'mask')."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import h5py
import numpy as np

from lim_tf.config import SourceConfig
from lim_tf.data.images import check_declared_size, map_mask_values, select_bands
from lim_tf.data.sample import Sample
from lim_tf.errors import InputError

# Bands 1-12 are Sentinel-2 B1-B12; 13 is slope and 14 the ALOS PALSAR DEM.
L4S_BANDS = tuple(f"B{i}" for i in range(1, 13)) + ("slope", "dem")
L4S_MASK_VALUES = ((0, "background"), (1, "landslide"))
RESOLUTION = 10.0  # metres: every band is resampled to about 10 m


def _root(path: Path) -> Path:
    if (path / "img").is_dir():
        return path
    if (path / "TrainData" / "img").is_dir():
        return path / "TrainData"
    raise InputError(f"{path}: expected img/ and mask/ (or TrainData/img/) inside, the Landslide4Sense layout")


def _read_key(path: Path, key: str) -> np.ndarray:
    try:
        with h5py.File(path, "r") as handle:
            if key not in handle or not isinstance(handle[key], h5py.Dataset):
                raise InputError(f"{path}: no dataset {key!r} (has {', '.join(handle.keys()) or 'none'}); "
                                 "is this a Landslide4Sense file?")
            data = handle[key]
            if data.dtype.kind not in "uif":
                raise InputError(f"{path}: {key!r} holds {data.dtype} values, not numbers; is this a Landslide4Sense file?")
            check_declared_size(path, int(np.prod(data.shape[:2] or (1,))), 1,
                                int(np.prod(data.shape[2:] or (1,))), data.dtype.itemsize)
            return np.asarray(data)
    except (OSError, RuntimeError, ValueError, KeyError) as error:  # h5py's errors on a damaged file vary
        reason = str(error).splitlines()[0][:160] if str(error) else type(error).__name__
        raise InputError(f"{path}: cannot read HDF5 ({reason}); replace or remove the file") from error


def list_l4s(path: Path) -> list[Path]:
    """The image_N.h5 files, in patch-number order."""
    root = _root(path)
    images = sorted(root.glob("img/image_*.h5"), key=lambda p: int(p.stem.split("_")[-1]))
    if not images:
        raise InputError(f"{root / 'img'}: no image_N.h5 files")
    return images


def read_l4s(path: Path, config: SourceConfig) -> Iterator[Sample]:
    """Samples from Landslide4Sense patches, with band selection by name or index."""
    for image_path in list_l4s(path):
        yield from read_l4s_unit(image_path, config)


def read_l4s_unit(image_path: Path, config: SourceConfig) -> Iterator[Sample]:
    """The sample of one patch and its mask."""
    value_map = config.mask_values or L4S_MASK_VALUES
    number = image_path.stem.split("_")[-1]
    mask_path = image_path.parent.parent / "mask" / f"mask_{number}.h5"
    if not mask_path.exists():
        raise InputError(f"{image_path}: no mask {mask_path}; unlabelled patches cannot be used for training")
    image = _read_key(image_path, "img")
    if image.ndim != 3 or image.shape[-1] != len(L4S_BANDS):
        raise InputError(f"{image_path}: expected (H, W, 14) bands, found shape {image.shape}")
    with np.errstate(over="ignore", invalid="ignore"):  # too large becomes inf, refused as non-finite later
        image = image.astype(np.float32)
    image, names = select_bands(image, L4S_BANDS, config.bands, str(image_path))
    raw = _read_key(mask_path, "mask")
    if raw.shape != image.shape[:2]:
        raise InputError(f"{mask_path}: mask shape {raw.shape} differs from its image {image.shape[:2]}")
    mask = map_mask_values(raw, value_map, str(mask_path))
    yield Sample(image, mask, f"image_{number}", "l4s", names, config.resolution or RESOLUTION, str(image_path))
