"""Offline augmentation: the paper's three recipes (online transforms are in data/transforms.py).

Offline recipes (applied to training landslide chips only; the mask moves with the image,
only the image is filtered or noised):
  lr_flip_mean   left-right flip, then a k x k mean filter (reflect padding, as tfa's mean_filter2d)
  ud_flip_gamma  up-down flip, then gamma with gamma drawn uniformly from gamma_range
  mirror_noise   mirror through the centre (both axes flipped), then Gaussian noise of
                 noise_std x the band's range
"""

from __future__ import annotations

import dataclasses
import logging
import zlib
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from lim_tf.config import AugmentConfig
from lim_tf.data.sample import IGNORE, Chip
from lim_tf.data.schema import to_record_dtype
from lim_tf.data.stats import PixelCounts, chip_counts
from lim_tf.runtime.quiet import tf

log = logging.getLogger(__name__)


def mean_filter(image: np.ndarray, kernel: int) -> np.ndarray:
    """k x k mean filter per band with reflect padding; integer images are rounded back."""
    pad = kernel // 2
    padded = tf.pad(tf.cast(image[None], tf.float32), [[0, 0], [pad, pad], [pad, pad], [0, 0]], "REFLECT")
    filtered = tf.nn.avg_pool2d(padded, kernel, 1, "VALID")[0].numpy()
    return to_record_dtype(filtered, image.dtype)


def _band_range(image: np.ndarray, valid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """uint8 images span 0..255; other imagery spans its own per-band min..max."""
    if image.dtype == np.uint8:
        return np.zeros(image.shape[-1]), np.full(image.shape[-1], 255.0)
    pixels = image[valid] if valid.any() else image.reshape(-1, image.shape[-1])
    return pixels.min(axis=0).astype(np.float64), pixels.max(axis=0).astype(np.float64)


def apply_gamma(image: np.ndarray, gamma: float, valid: np.ndarray) -> np.ndarray:
    """Gamma correction within each band's range."""
    low, high = _band_range(image, valid)
    span = np.where(high > low, high - low, 1.0)
    unit = np.clip((image.astype(np.float64) - low) / span, 0.0, 1.0)
    return to_record_dtype(low + span * unit**gamma, image.dtype)


def add_noise(image: np.ndarray, std: float, rng: np.random.Generator, valid: np.ndarray) -> np.ndarray:
    """Additive Gaussian noise with standard deviation std x each band's range."""
    low, high = _band_range(image, valid)
    noisy = image.astype(np.float64) + rng.normal(0.0, 1.0, image.shape) * std * (high - low)
    return to_record_dtype(noisy, image.dtype)


Recipe = Callable[[np.ndarray, np.ndarray, np.random.Generator, AugmentConfig], tuple[np.ndarray, np.ndarray]]


def _lr_flip_mean(image, mask, rng, config):
    return mean_filter(image[:, ::-1], config.mean_kernel), mask[:, ::-1]


def _ud_flip_gamma(image, mask, rng, config):
    gamma = rng.uniform(*config.gamma_range)
    return apply_gamma(image[::-1], gamma, mask[::-1] != IGNORE), mask[::-1]


def _mirror_noise(image, mask, rng, config):
    mirrored, mirrored_mask = image[::-1, ::-1], mask[::-1, ::-1]
    return add_noise(mirrored, config.noise_std, rng, mirrored_mask != IGNORE), mirrored_mask


RECIPES: dict[str, Recipe] = {
    "lr_flip_mean": _lr_flip_mean,
    "ud_flip_gamma": _ud_flip_gamma,
    "mirror_noise": _mirror_noise,
}


def copy_id(chip_id: str, copy: int, config: AugmentConfig) -> tuple[str, str]:
    """(recipe, id) of a chip's copy number `copy`: recipes in turn, numbered after the first round."""
    recipe = config.recipes[copy % len(config.recipes)]
    suffix = recipe if copy < len(config.recipes) else f"{recipe}_{copy // len(config.recipes)}"
    return recipe, f"{chip_id}+{suffix}"


def augment_copy(chip: Chip, recipe: str, copy: int, config: AugmentConfig) -> Chip:
    """One augmented copy of a chip, seeded by (seed, chip id, copy) so order does not matter."""
    rng = np.random.default_rng([config.seed, zlib.crc32(chip.chip_id.encode()), copy])
    image, mask = RECIPES[recipe](chip.image, chip.mask, rng, config)
    return dataclasses.replace(chip, image=np.ascontiguousarray(image), mask=np.ascontiguousarray(mask),
                               chip_id=copy_id(chip.chip_id, copy, config)[1], augmentation=recipe)


def plan_copies(chips: Sequence[Any], before: PixelCounts, config: AugmentConfig,
                counts: Callable[[Any], PixelCounts] = chip_counts) -> list[tuple[int, int]]:
    """(chip index, copy number) pairs to make: fixed copies per recipe, or until the IR target.

    `chips` may be Chips or anything with is_landslide, fold and augmentation, given `counts`."""
    candidates = [i for i, chip in enumerate(chips) if chip.is_landslide and chip.fold >= 0
                  and chip.augmentation == "none"]
    if not config.recipes:
        return []
    if config.target_ir is None:
        return [(i, c) for c in range(config.copies * len(config.recipes)) for i in candidates]
    total = before
    plan: list[tuple[int, int]] = []
    for copy in range(config.max_copies):
        for i in candidates:
            if total.imbalance_ratio is None or total.imbalance_ratio <= config.target_ir:
                return plan
            plan.append((i, copy))
            total = total + counts(chips[i])
    log.warning("target IR %.2f not reached after %d copies per landslide chip (IR %.2f); "
                "raise --max-copies or the target", config.target_ir, config.max_copies,
                total.imbalance_ratio or float("nan"))
    return plan


def augment_chips(chips: Sequence[Chip], before: PixelCounts, config: AugmentConfig,
                  progress: Callable | None = None) -> list[Chip]:
    """The augmented copies of the training landslide chips (test chips are never augmented)."""
    plan = plan_copies(chips, before, config)
    steps = progress(plan, desc="augmenting", unit="chip") if progress else plan
    return [augment_copy(chips[i], config.recipes[copy % len(config.recipes)], copy, config)
            for i, copy in steps]
