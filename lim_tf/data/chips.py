"""Samples to fixed-size chips: resized (bilinear image, nearest mask) or cut on a grid."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import tensorflow as tf

from lim_tf.config import ChipConfig
from lim_tf.data.sample import IGNORE, Chip, Sample
from lim_tf.windows import grid_offsets


def resize_image(image: np.ndarray, size: int) -> np.ndarray:
    """Bilinear resize (half-pixel centres, no antialiasing); integer images are rounded back."""
    if image.shape[:2] == (size, size):
        return image
    resized = tf.image.resize(image.astype(np.float32), (size, size), method="bilinear").numpy()
    if np.issubdtype(image.dtype, np.integer):
        info = np.iinfo(image.dtype)
        return np.clip(np.rint(resized), info.min, info.max).astype(image.dtype)
    return resized.astype(np.float32)


def resize_mask(mask: np.ndarray, size: int) -> np.ndarray:
    """Nearest-neighbour resize, so class values stay class values."""
    if mask.shape == (size, size):
        return mask
    resized = tf.image.resize(mask[..., None], (size, size), method="nearest").numpy()
    return resized[..., 0].astype(np.uint8)


def make_chips(sample: Sample, config: ChipConfig) -> Iterator[Chip]:
    """The chips of one sample; tiles keep the sample as their origin for grouped folds."""
    image = sample.image if sample.image.dtype != np.float64 else sample.image.astype(np.float32)
    if config.resize:
        yield Chip(resize_image(image, config.size), resize_mask(sample.mask, config.size),
                   sample.sample_id, sample.sample_id, sample.source, sample.band_names)
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
