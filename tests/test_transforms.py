"""Online training transforms (lim_tf.data.transforms), each against an independent computation."""

import numpy as np
import pytest
import tensorflow as tf
from scipy.ndimage import gaussian_filter

from lim_tf.data.sample import IGNORE
from lim_tf.data.transforms import (
    Photometric,
    _fused_curve_and_noise,
    _gamma_contrast,
    flip_rotate,
    gaussian_blur,
    jittered_tile,
    photometric,
)

STILL = Photometric(brightness=0.0, contrast=0.0, gamma=1.0, blur_probability=0.0, noise=0.0)


def seed(k: int) -> tf.Tensor:
    return tf.constant([k, 7], tf.int64)


def symmetries(image: np.ndarray) -> list[np.ndarray]:
    """The 8 flips and turns of a square image (numpy's own rot90 and flips)."""
    turns = [np.rot90(image, k) for k in range(4)]
    return turns + [np.fliplr(t) for t in turns]


def test_flip_rotate_moves_each_mask_with_its_image_and_reaches_all_8_symmetries():
    images = tf.random.stateless_uniform([64, 16, 16, 3], [1, 2])
    masks = tf.cast(images[..., 0] > 0.5, tf.uint8)
    reached = set()
    for k in range(4):
        out_images, out_masks = flip_rotate(images, masks, seed(k))
        np.testing.assert_array_equal(out_masks.numpy(), (out_images[..., 0] > 0.5).numpy().astype(np.uint8))
        for image, out in zip(images.numpy(), out_images.numpy()):
            match = [i for i, s in enumerate(symmetries(image)) if np.array_equal(s, out)]
            assert len(match) == 1
            reached.add(match[0])
        np.testing.assert_array_equal(flip_rotate(images, masks, seed(k))[0].numpy(), out_images.numpy())
    assert reached == set(range(8))


def test_tile_without_rescaling_is_a_window_of_the_chip():
    rows, cols = np.mgrid[:40, :50]
    chip = np.stack([rows, cols], axis=-1).astype(np.uint8)  # each pixel says where it is
    mask = (np.arange(40 * 50).reshape(40, 50) % 3).astype(np.uint8)
    for k in range(10):
        image, out_mask = jittered_tile(tf.constant(chip), tf.constant(mask), seed(k), 24, 1.0, tf.zeros([2]))
        image, out_mask = image.numpy(), out_mask.numpy()
        top, left = int(image[0, 0, 0]), int(image[0, 0, 1])
        np.testing.assert_array_equal(image, chip[top:top + 24, left:left + 24])
        np.testing.assert_array_equal(out_mask, mask[top:top + 24, left:left + 24])


def test_small_chip_is_placed_whole_in_a_tile_of_fill_with_the_rest_ignored():
    chip = np.full((10, 14, 3), 200, np.uint8)
    fill = tf.constant([1.0, 2.0, 3.0])
    image, mask = jittered_tile(tf.constant(chip), tf.ones([10, 14], tf.uint8), seed(3), 32, 1.0, fill)
    image, mask = image.numpy(), mask.numpy()
    inside = mask == 1
    assert inside.sum() == 140 and np.all(image[inside] == 200)
    assert np.all(mask[~inside] == IGNORE) and np.all(image[~inside] == [1.0, 2.0, 3.0])


@pytest.mark.parametrize("largest", [1.25, 2.0])
def test_rescaled_tile_keeps_the_landslide_share_of_the_chip(largest):
    chip = np.zeros((300, 300, 1), np.uint8)
    mask = np.zeros((300, 300), np.uint8)
    chip[:, :150], mask[:, :150] = 255, 1  # left half landslide: a tile holds it where its pixels are bright
    shares = []
    for k in range(40):
        image, out = jittered_tile(tf.constant(chip), tf.constant(mask), seed(k), 64, largest, tf.zeros([1]))
        image, out = image.numpy()[..., 0], out.numpy()
        assert set(np.unique(out)) <= {0, 1}  # a larger chip fills the tile: nothing is padding
        assert ((image > 127) == (out == 1)).mean() > 0.97
        shares.append(out.mean())
    assert 0.35 < np.mean(shares) < 0.65


def test_rescaling_a_window_keeps_its_aspect():
    # A chip lower than the tile: the window is 20 pixels by about 32 / factor. Each pixel holds
    # its own row and column, so one step in the tile must move as far through the chip down the
    # tile as across it (both 1 / factor).
    rows, cols = np.mgrid[:20, :200]
    chip = tf.constant(np.stack([rows, cols], axis=-1).astype(np.uint8))
    for k in range(16):
        image, mask = jittered_tile(chip, tf.ones([20, 200], tf.uint8), seed(k), 32, 1.25, tf.zeros([2]))
        image, valid = image.numpy(), mask.numpy() == 1
        down = np.abs(np.diff(image, axis=0)).sum(-1)[valid[1:] & valid[:-1]].mean()
        across = np.abs(np.diff(image, axis=1)).sum(-1)[valid[:, 1:] & valid[:, :-1]].mean()
        assert 0.8 < down / across < 1.25, (k, down, across)


def test_photometric_with_every_range_zero_leaves_images_unchanged():
    images = tf.random.stateless_uniform([4, 16, 16, 3], [3, 4], 0, 255)
    out = photometric(images, seed(1), tf.fill([3], 100.0), tf.fill([3], 30.0), tf.zeros([3]), tf.fill([3], 255.0),
                      STILL)
    np.testing.assert_allclose(out.numpy(), images.numpy(), rtol=1e-5, atol=1e-3)


def test_gamma_and_contrast_match_the_closed_form():
    rng = np.random.default_rng(0)
    images = rng.uniform(10, 250, (2, 8, 8, 2)).astype(np.float32)
    low, high = np.array([10.0, 0.0], np.float32), np.array([250.0, 255.0], np.float32)
    gamma = np.array([2.0, 0.5], np.float32).reshape(2, 1, 1, 1)
    contrast = np.array([1.0, 1.2], np.float32).reshape(2, 1, 1, 1)
    shift = np.array([[0.0, 0.0], [5.0, -5.0]], np.float32).reshape(2, 1, 1, 2)
    out = _gamma_contrast(tf.constant(images), tf.constant(gamma), tf.constant(contrast), tf.constant(shift),
                          tf.constant(low), tf.constant(high)).numpy()
    curved = low + (high - low) * ((images - low) / (high - low)) ** gamma
    centre = curved.mean(axis=(1, 2), keepdims=True)
    expected = centre + contrast * (curved - centre) + shift
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-3)
    # the XLA-fused pass the pipeline runs, with noise of level 0
    fused = _fused_curve_and_noise(tf.constant(images), tf.constant(gamma), tf.constant(contrast), tf.constant(shift),
                                   tf.constant(low), tf.constant(high), tf.fill([64], tf.constant(0xFFFFFFFF, tf.uint32)),
                                   tf.zeros([2, 1, 1, 2]))
    np.testing.assert_allclose(fused.numpy(), expected, rtol=1e-4, atol=1e-2)


def test_blur_of_each_image_matches_scipy_with_its_own_sigma():
    images = tf.random.stateless_uniform([3, 20, 17, 2], [5, 6], 0, 100)
    sigma = tf.constant([0.4, 0.8, 1.2])
    out = gaussian_blur(images, sigma).numpy()
    for k in range(3):
        for band in range(2):
            expected = gaussian_filter(images.numpy()[k, ..., band].astype(np.float64), float(sigma[k]),
                                       mode="mirror", radius=2)
            np.testing.assert_allclose(out[k, ..., band], expected, rtol=1e-5, atol=1e-3)


def test_noise_has_the_spread_its_range_promises():
    # noise only: each image's std is drawn uniformly from 0..noise x the band std, so the mean
    # variance is noise^2 std^2 / 3
    images = tf.fill([256, 32, 32, 1], 100.0)
    ranges = Photometric(brightness=0.0, contrast=0.0, gamma=1.0, blur_probability=0.0, noise=0.5)
    out = photometric(images, seed(2), tf.fill([1], 100.0), tf.fill([1], 20.0), tf.zeros([1]), tf.fill([1], 255.0),
                      ranges).numpy()
    variances = out.reshape(256, -1).var(axis=1)
    np.testing.assert_allclose(variances.mean(), 0.5**2 * 20.0**2 / 3, rtol=0.1)
    assert abs(float(np.mean(out - 100.0))) < 0.2
