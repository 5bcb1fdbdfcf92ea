"""Samples to chips: kept whole at one ground resolution, cut on a grid, or resized (the paper)."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import numpy as np

from lim_tf.config import ChipConfig
from lim_tf.data.images import MAX_SAMPLE_BYTES
from lim_tf.data.sample import IGNORE, Chip, Sample
from lim_tf.data.schema import to_record_dtype
from lim_tf.errors import InputError
from lim_tf.geo.grid import TOLERANCE
from lim_tf.geo.windows import grid_offsets
from lim_tf.runtime.quiet import tf


def resize_image(image: np.ndarray, height: int, width: int | None = None, antialias: bool = False) -> np.ndarray:
    """Bilinear resize (half-pixel centres); antialiased when shrinking if asked; integers rounded back."""
    width = height if width is None else width
    if image.shape[:2] == (height, width):
        return image
    resized = tf.image.resize(image.astype(np.float32), (height, width), method="bilinear", antialias=antialias)
    return to_record_dtype(resized.numpy(), image.dtype)


def resize_mask(mask: np.ndarray, height: int, width: int | None = None) -> np.ndarray:
    """Nearest-neighbour resize, so class values stay class values."""
    width = height if width is None else width
    if mask.shape == (height, width):
        return mask
    resized = tf.image.resize(mask[..., None], (height, width), method="nearest").numpy()
    return resized[..., 0].astype(np.uint8)


def resample(sample: Sample, resolution: float | None) -> Sample:
    """The sample at `resolution` metres per pixel (antialiased bilinear image, nearest mask).

    The same rule serves records, `lim-tf eval --images` and scene mapping's target grid, so a
    model meets one ground resolution everywhere."""
    if resolution is None or (sample.resolution is not None and abs(sample.resolution / resolution - 1) <= TOLERANCE):
        return sample
    if sample.resolution is None:
        raise InputError(f"{sample.sample_id}: its pixel size is unknown, so it cannot be brought to {resolution} m; "
                         "state it with --source-resolution METRES")
    factor = sample.resolution / resolution
    height = max(1, round(sample.mask.shape[0] * factor))
    width = max(1, round(sample.mask.shape[1] * factor))
    size = height * width * sample.image.shape[-1] * 4  # float32 while resampling
    if size > MAX_SAMPLE_BYTES:  # checked before anything is allocated
        raise InputError(f"{sample.path or sample.sample_id}: at {resolution:g} m its {sample.resolution:g} m pixels "
                         f"become {width} x {height} ({size / 2**30:.1f} GiB), over the {MAX_SAMPLE_BYTES / 2**30:.0f} "
                         "GiB limit for one sample; choose a coarser --resolution")
    return dataclasses.replace(sample, image=resize_image(sample.image, height, width, antialias=True),
                               mask=resize_mask(sample.mask, height, width), resolution=resolution)


def make_chips(sample: Sample, config: ChipConfig) -> Iterator[Chip]:
    """The chips of one sample; tiles keep the sample as their origin for grouped folds."""
    if sample.image.dtype == np.float64:
        with np.errstate(over="ignore", invalid="ignore"):  # too large becomes inf, refused as non-finite
            sample = dataclasses.replace(sample, image=sample.image.astype(np.float32))
    image = sample.image
    if config.mode == "resize":
        yield Chip(resize_image(image, config.size), resize_mask(sample.mask, config.size),
                   sample.sample_id, sample.sample_id, sample.source, sample.band_names)
        return
    sample = resample(sample, config.resolution)
    image = sample.image
    if config.mode == "native":
        yield Chip(image, sample.mask, sample.sample_id, sample.sample_id, sample.source, sample.band_names)
        return
    size, stride = config.size, config.stride or config.size
    height, width = sample.mask.shape
    for row in grid_offsets(height, size, stride):
        for col in grid_offsets(width, size, stride):
            tile = np.zeros((size, size, image.shape[-1]), image.dtype)
            mask = np.full((size, size), IGNORE, np.uint8)  # padding counts neither way
            part = image[row:row + size, col:col + size]
            tile[: part.shape[0], : part.shape[1]] = part
            mask[: part.shape[0], : part.shape[1]] = sample.mask[row:row + size, col:col + size]
            chip_id = sample.sample_id if (height, width) == (size, size) else f"{sample.sample_id}_r{row}_c{col}"
            yield Chip(tile, mask, chip_id, sample.sample_id, sample.source, sample.band_names)
