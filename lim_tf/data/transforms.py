"""Online transforms for training tiles, graph-safe and stateless (each takes a [2] int seed).

Geometric transforms move the image and the mask together (the mask with nearest neighbour, so
classes stay classes); photometric ones change the image only. Pixels a transform brings in from
outside the chip are ignored (mask 255) and hold the band means, which the model normalises to 0.

The cut of a tile from its chip is per chip (chips differ in size); flips, turns and photometric
changes act on whole batches of tiles, each tile drawing its own, because one vectorised op on a
batch costs the CPU a fraction of sixteen small ones (the pipeline shares the cores with training),
and XLA fuses their passes over the batch into one where shapes are fixed.
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
    noise: float = 0.04  # noise std up to this, x the band's std (uniform noise: cheaper than Gaussian)


def jittered_tile(image: tf.Tensor, mask: tf.Tensor, seed: tf.Tensor, tile: int, largest: float,
                  fill: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """A tile x tile float32 window of a chip rescaled by a factor drawn log-uniformly from
    [1/largest, largest] (antialiased bilinear image, nearest mask), at a random place; a chip
    smaller than the tile is placed at a random offset in a tile of `fill` with its mask ignored.

    Rescaling lets a model meet landslides a little larger and smaller than the records hold them,
    as other sensors and resolutions show them. Only the window the tile comes from is cast and
    resampled (a couple of pixels more, so the cut stays random), not the whole chip. Flips and
    turns come after, on the batch (`flip_rotate`): the cut's place is uniform, so turning the
    tile instead of the window draws the same tiles."""
    seeds = tf.random.experimental.stateless_split(seed, 3)
    shape = tf.shape(mask)
    reach = tf.constant(tile)
    if largest > 1.0:
        factor = tf.exp(tf.random.stateless_uniform([], seeds[0], -math.log(largest), math.log(largest)))
        reach = tf.cast(tf.math.ceil(tile / factor), tf.int32) + 2
    window = tf.minimum(shape, reach)
    start = tf.cast(tf.random.stateless_uniform([2], seeds[1]) * tf.cast(shape - window + 1, tf.float32), tf.int32)
    start = tf.minimum(start, shape - window)
    image = tf.slice(image, tf.concat([start, [0]], 0), tf.concat([window, [-1]], 0))
    mask = tf.slice(mask, start, window)
    image = tf.cast(image, tf.float32)
    if largest > 1.0:
        size = tf.maximum(tf.cast(tf.round(tf.cast(tf.shape(mask), tf.float32) * factor), tf.int32), 1)
        image = tf.cond(factor < 1.0, lambda: tf.image.resize(image, size, method="bilinear", antialias=True),
                        lambda: tf.image.resize(image, size, method="bilinear"))  # the same when growing
        mask = tf.image.resize(mask[..., None], size, method="nearest")[..., 0]
    return crop_or_pad(image, mask, seeds[2], tile, fill)


def crop_or_pad(image: tf.Tensor, mask: tf.Tensor, seed: tf.Tensor, tile: int,
                fill: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """A tile x tile window at a random place: a crop of a larger chip, or a smaller chip placed
    at a random offset in a tile of `fill` (per band) whose mask is ignored. `image` is float."""
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


def flip_rotate(images: tf.Tensor, masks: tf.Tensor, seed: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    """Each square tile of a batch [B,S,S,C] and its mask [B,S,S] in one of the 8 flips and
    90-degree turns, drawn uniformly per tile: a left-right flip, an up-down flip and a transpose,
    each with probability 1/2, give every element of the square's symmetry group once."""
    draws = tf.random.stateless_uniform([tf.shape(images)[0], 3], seed) < 0.5
    return _fused_turns(images, masks, draws)


def _turns(images: tf.Tensor, masks: tf.Tensor, draws: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
    turned = []
    for x in (images, masks):
        rank = len(x.shape)
        for draw, move in ((draws[:, 0], lambda t: tf.reverse(t, [2])), (draws[:, 1], lambda t: tf.reverse(t, [1])),
                           (draws[:, 2], lambda t: tf.transpose(t, [0, 2, 1, 3][:rank]))):
            x = tf.where(tf.reshape(draw, [-1] + [1] * (rank - 1)), move(x), x)
        turned.append(x)
    return turned[0], turned[1]


# One pass over the batch instead of six, and a uint8 transpose that never reaches oneDNN (which
# prints an error line into the user's terminal when it falls back to Eigen for one).
_fused_turns = tf.function(_turns, jit_compile=True)


def photometric(images: tf.Tensor, seed: tf.Tensor, mean: tf.Tensor, std: tf.Tensor, low: tf.Tensor,
                high: tf.Tensor, ranges: Photometric = Photometric()) -> tf.Tensor:
    """Blur, then gamma, contrast, brightness and noise, drawn per image of a batch [B,H,W,C]; float32.

    Band statistics (mean, std, min, max of the training records) set the scale of each change,
    so the same ranges suit 8-bit RGB, 16-bit counts and reflectance. Blur comes first, as a
    sensor's optics come before its radiometric curve, so that the rest is one pass (`_curve_and_noise`)."""
    seeds = tf.random.experimental.stateless_split(seed, 6)
    each = [tf.shape(images)[0], 1, 1, 1]
    blurred = tf.random.stateless_uniform(each[:1], seeds[3]) < ranges.blur_probability
    sigma = tf.random.stateless_uniform(each[:1], seeds[4], *ranges.blur_sigma)
    picked = tf.where(blurred)  # [N, 1]: blur only those (most images are not blurred)
    images = tf.cond(tf.size(picked) > 0, lambda: tf.tensor_scatter_nd_update(
        images, picked, gaussian_blur(tf.gather_nd(images, picked), tf.gather_nd(sigma, picked))), lambda: images)
    gamma = tf.exp(tf.random.stateless_uniform(each, seeds[0], -math.log(ranges.gamma), math.log(ranges.gamma)))
    contrast = tf.random.stateless_uniform(each, seeds[1], 1 - ranges.contrast, 1 + ranges.contrast)
    brightness = tf.random.stateless_normal(each, seeds[2]) * ranges.brightness * std
    level = tf.random.stateless_uniform(each, seeds[5], 0.0, ranges.noise) * math.sqrt(3.0) * std
    # A byte of random bits per pixel and band: a quarter of the draws of float noise.
    bits = tf.random.stateless_uniform([-(-tf.size(images) // 4)], tf.random.experimental.stateless_fold_in(seeds[5], 1),
                                       minval=None, maxval=None, dtype=tf.uint32)
    return _fused_curve_and_noise(images, gamma, contrast, brightness, low, high, bits, level)


def _curve_and_noise(images: tf.Tensor, gamma: tf.Tensor, contrast: tf.Tensor, shift: tf.Tensor, low: tf.Tensor,
                     high: tf.Tensor, bits: tf.Tensor, level: tf.Tensor) -> tf.Tensor:
    """`_gamma_contrast`, then uniform noise in [-level, level] per image and band [B,1,1,C], read
    from the bytes of `bits` (uint32, a quarter as many as the images' values) in 256 steps."""
    shifts = tf.constant([0, 8, 16, 24], tf.uint32)
    steps = tf.bitwise.bitwise_and(tf.bitwise.right_shift(bits[:, None], shifts), 255)
    unit = (tf.cast(tf.reshape(steps, [-1])[:tf.size(images)], tf.float32) + 0.5) / 128.0 - 1.0  # in (-1, 1)
    return _gamma_contrast(images, gamma, contrast, shift, low, high) + tf.reshape(unit, tf.shape(images)) * level


# XLA fuses the dozen passes over the batch into one: 3 CPU ms a batch of 16 x 128² x 3 against 11
# (Xeon, 2026-12-05). The draws stay outside: XLA's own random numbers are far slower on CPUs.
_fused_curve_and_noise = tf.function(_curve_and_noise, jit_compile=True)


def _gamma_contrast(images: tf.Tensor, gamma: tf.Tensor, contrast: tf.Tensor, shift: tf.Tensor, low: tf.Tensor,
                    high: tf.Tensor) -> tf.Tensor:
    """low + span x unit ** gamma (unit: the pixel's place in its band's low..high, clipped), then
    deviations from each image's mean scaled by `contrast`, then `shift` added; gamma and contrast
    are [B,1,1,1], shift [B,1,1,C]."""
    span = tf.maximum(high - low, 1e-6)
    unit = tf.clip_by_value((images - low) / span, 0.0, 1.0)
    curved = tf.exp(gamma * tf.math.log(unit)) * (contrast * span)  # tf.pow is not vectorised; 0 stays 0
    centre = tf.reduce_mean(curved, axis=[1, 2], keepdims=True)
    # contrast x (G - mean G) + mean G with G = low + span x unit ** gamma
    return curved + ((1.0 - contrast) / contrast * centre + low + shift)


def gaussian_blur(images: tf.Tensor, sigma: tf.Tensor, radius: int = 2) -> tf.Tensor:
    """Separable Gaussian blur of each band of each image [B,H,W,C] with its own sigma [B] in
    pixels, reflect padding at the edges. The batch's bands are stacked as channels
    of one image so that one depthwise convolution blurs them all."""
    batch, height, width, channels = (tf.shape(images)[k] for k in range(4))
    taps = tf.range(-radius, radius + 1, dtype=tf.float32)
    kernel = tf.exp(-0.5 * tf.square(taps[None] / tf.maximum(sigma[:, None], 1e-3)))  # [B, taps]
    kernel = kernel / tf.reduce_sum(kernel, axis=1, keepdims=True)
    kernel = tf.reshape(tf.repeat(kernel, channels, axis=0), [batch * channels, -1])  # per stacked band
    stacked = tf.reshape(tf.transpose(images, [1, 2, 0, 3]), [1, height, width, batch * channels])
    padded = tf.pad(stacked, [[0, 0], [radius, radius], [radius, radius], [0, 0]], "REFLECT")
    rows = tf.transpose(kernel)[:, None, :, None]
    cols = tf.transpose(kernel)[None, :, :, None]
    out = tf.nn.depthwise_conv2d(padded, rows, [1, 1, 1, 1], "VALID")
    out = tf.nn.depthwise_conv2d(out, cols, [1, 1, 1, 1], "VALID")
    return tf.transpose(tf.reshape(out, [height, width, batch, channels]), [2, 0, 1, 3])
