"""Online transforms for training tiles, graph-safe and stateless (each takes a [2] int seed).

Geometric transforms move the image and the mask together (the mask with nearest neighbour, so
classes stay classes); photometric ones change the image only. Pixels a transform brings in from
outside the chip are ignored (mask 255) and hold the band means, which the model normalises to 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from lim_tf.data.sample import IGNORE
from lim_tf.runtime.quiet import tf


@dataclass(frozen=True)
class Photometric:
    """Ranges of the photometric changes, in units of each band's training statistics."""

    brightness: float = 0.1  # additive shift, x the band's std (per image)
    contrast: float = 0.2  # scale of deviations from the image mean in [1 - c, 1 + c]
    gamma: float = 1.3  # exponent in [1/g, g], applied within the band's min..max
    blur_probability: float = 0.3
    blur_sigma: tuple[float, float] = (0.4, 1.2)  # pixels
    noise: float = 0.04  # Gaussian noise std up to this, x the band's std


def random_flip_rotate(image: tf.Tensor, mask: tf.Tensor, seed: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Joint random left-right flip, up-down flip and 90-degree rotation.

    `mask` is (H, W) or (H, W, 1); rotating a non-square chip swaps its height and width."""
    seeds = tf.random.experimental.stateless_split(seed, 3)
    squeeze = mask.shape.rank == 2
    mask3 = mask[..., None] if squeeze else mask
    stacked = tf.concat([image, tf.cast(mask3, image.dtype)], axis=-1)
    stacked = tf.image.stateless_random_flip_left_right(stacked, seeds[0])
    stacked = tf.image.stateless_random_flip_up_down(stacked, seeds[1])
    turns = tf.random.stateless_uniform([], seeds[2], 0, 4, dtype=tf.int32)
    stacked = tf.image.rot90(stacked, turns)
    channels = tf.shape(image)[-1]
    out_image = stacked[..., :channels]
    out_mask = tf.cast(stacked[..., channels:], mask.dtype)
    out_image.set_shape([None, None, image.shape[-1]])
    return out_image, (out_mask[..., 0] if squeeze else out_mask)


def scale_jitter(image: tf.Tensor, mask: tf.Tensor, seed: tf.Tensor, largest: float) -> tuple[tf.Tensor, tf.Tensor]:
    """Rescale by a factor drawn log-uniformly from [1/largest, largest] (antialiased bilinear
    image, nearest mask), so a model meets landslides a little larger and smaller than the records
    hold them, as other sensors and resolutions show them."""
    if largest <= 1.0:
        return image, mask
    log_factor = tf.random.stateless_uniform([], seed, -math.log(largest), math.log(largest))
    shape = tf.cast(tf.shape(mask), tf.float32)
    size = tf.maximum(tf.cast(tf.round(shape * tf.exp(log_factor)), tf.int32), 1)
    scaled = tf.image.resize(image, size, method="bilinear", antialias=True)
    scaled_mask = tf.image.resize(mask[..., None], size, method="nearest")[..., 0]
    return scaled, scaled_mask


def crop_or_pad(image: tf.Tensor, mask: tf.Tensor, seed: tf.Tensor, tile: int,
                fill: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """A tile x tile window at a random place: a crop of a larger chip, or a smaller chip placed
    at a random offset in a tile of `fill` (per band) whose mask is ignored."""
    seeds = tf.random.experimental.stateless_split(seed, 2)
    shape = tf.shape(mask)
    pad = tf.maximum(tile - shape, 0)
    offset = tf.cast(tf.random.stateless_uniform([2], seeds[0]) * tf.cast(pad + 1, tf.float32), tf.int32)
    offset = tf.minimum(offset, pad)
    paddings = tf.stack([offset, pad - offset], axis=1)
    fill = tf.cast(fill, image.dtype)
    image = tf.pad(image - fill, tf.concat([paddings, [[0, 0]]], 0)) + fill
    mask = tf.pad(mask, paddings, constant_values=IGNORE)
    size = tf.shape(mask)
    limit = size - tile + 1
    start = tf.cast(tf.random.stateless_uniform([2], seeds[1]) * tf.cast(limit, tf.float32), tf.int32)
    start = tf.minimum(start, limit - 1)
    image = tf.slice(image, tf.concat([start, [0]], 0), [tile, tile, -1])
    mask = tf.slice(mask, start, [tile, tile])
    image.set_shape([tile, tile, None])
    mask.set_shape([tile, tile])
    return image, mask


def photometric(image: tf.Tensor, seed: tf.Tensor, mean: tf.Tensor, std: tf.Tensor, low: tf.Tensor,
                high: tf.Tensor, ranges: Photometric = Photometric()) -> tf.Tensor:
    """Gamma, contrast, brightness, blur and noise, drawn per image; float32 in, float32 out.

    Band statistics (mean, std, min, max of the training records) set the scale of each change,
    so the same ranges suit 8-bit RGB, 16-bit counts and reflectance."""
    seeds = tf.random.experimental.stateless_split(seed, 6)
    span = tf.maximum(high - low, 1e-6)
    gamma = tf.exp(tf.random.stateless_uniform([], seeds[0], -math.log(ranges.gamma), math.log(ranges.gamma)))
    unit = tf.clip_by_value((image - low) / span, 0.0, 1.0)
    image = low + span * tf.pow(unit, gamma)
    contrast = tf.random.stateless_uniform([], seeds[1], 1 - ranges.contrast, 1 + ranges.contrast)
    centre = tf.reduce_mean(image, axis=[0, 1], keepdims=True)
    image = centre + contrast * (image - centre)
    image = image + tf.random.stateless_normal([], seeds[2]) * ranges.brightness * std
    blur = tf.random.stateless_uniform([], seeds[3]) < ranges.blur_probability
    sigma = tf.random.stateless_uniform([], seeds[4], *ranges.blur_sigma)
    image = tf.cond(blur, lambda: gaussian_blur(image, sigma), lambda: image)
    level = tf.random.stateless_uniform([], seeds[5], 0.0, ranges.noise)
    noise_seed = tf.random.experimental.stateless_fold_in(seeds[5], 1)
    return image + tf.random.stateless_normal(tf.shape(image), noise_seed) * level * std


def gaussian_blur(image: tf.Tensor, sigma: tf.Tensor, radius: int = 2) -> tf.Tensor:
    """Separable Gaussian blur of each band (reflect padding at the edges)."""
    taps = tf.range(-radius, radius + 1, dtype=tf.float32)
    kernel = tf.exp(-0.5 * tf.square(taps / tf.maximum(sigma, 1e-3)))
    kernel = kernel / tf.reduce_sum(kernel)
    channels = tf.shape(image)[-1]
    padded = tf.pad(image[None], [[0, 0], [radius, radius], [radius, radius], [0, 0]], "REFLECT")
    rows = tf.tile(tf.reshape(kernel, [-1, 1, 1, 1]), [1, 1, channels, 1])
    cols = tf.tile(tf.reshape(kernel, [1, -1, 1, 1]), [1, 1, channels, 1])
    out = tf.nn.depthwise_conv2d(padded, rows, [1, 1, 1, 1], "VALID")
    out = tf.nn.depthwise_conv2d(out, cols, [1, 1, 1, 1], "VALID")
    return out[0]
