import numpy as np

from lim_tf.config import AugmentConfig
from lim_tf.data.augment import RECIPES, add_noise, apply_gamma, augment_copy, mean_filter
from lim_tf.data.sample import Chip


def numpy_mean_filter(image: np.ndarray, k: int) -> np.ndarray:
    pad = k // 2
    padded = np.pad(image.astype(np.float64), ((pad, pad), (pad, pad), (0, 0)), mode="reflect")
    out = np.zeros(image.shape, np.float64)
    for dy in range(k):
        for dx in range(k):
            out += padded[dy:dy + image.shape[0], dx:dx + image.shape[1]]
    return out / (k * k)


def make_chip(seed=0, size=24) -> Chip:
    rng = np.random.default_rng(seed)
    mask = np.zeros((size, size), np.uint8)
    mask[2:9, 3:20] = 1
    return Chip(rng.integers(0, 256, (size, size, 3), dtype=np.uint8), mask, "a", "a", "t", ("r", "g", "b"), fold=0)


def test_mean_filter_matches_numpy():
    image = np.random.default_rng(1).random((10, 12, 2)).astype(np.float32)
    np.testing.assert_allclose(mean_filter(image, 3), numpy_mean_filter(image, 3), atol=1e-6)


def test_lr_flip_mean_moves_mask_and_filters_only_image():
    chip = make_chip()
    config = AugmentConfig()
    image, mask = RECIPES["lr_flip_mean"](chip.image, chip.mask, np.random.default_rng(0), config)
    np.testing.assert_array_equal(mask, chip.mask[:, ::-1])
    expected = np.rint(numpy_mean_filter(chip.image[:, ::-1], 3))
    assert np.abs(image.astype(int) - expected).max() <= 1


def test_gamma_closed_form_on_uint8():
    image = np.arange(256, dtype=np.uint8).reshape(16, 16, 1)
    out = apply_gamma(image, 2.0, np.ones((16, 16), bool))
    np.testing.assert_array_equal(out[..., 0], np.rint(255 * (image[..., 0] / 255.0) ** 2).astype(np.uint8))


def test_noise_has_the_requested_spread():
    image = np.full((200, 200, 1), 128, np.uint8)
    out = add_noise(image, 0.03, np.random.default_rng(0), np.ones((200, 200), bool))
    assert abs((out.astype(float) - 128).std() - 0.03 * 255) < 0.3


def test_mirror_noise_flips_both_axes():
    chip = make_chip()
    _, mask = RECIPES["mirror_noise"](chip.image, chip.mask, np.random.default_rng(0), AugmentConfig())
    np.testing.assert_array_equal(mask, chip.mask[::-1, ::-1])


def test_copies_are_seeded_by_chip_and_copy():
    chip, config = make_chip(), AugmentConfig()
    first = augment_copy(chip, "ud_flip_gamma", 1, config)
    again = augment_copy(chip, "ud_flip_gamma", 1, config)
    other = augment_copy(chip, "ud_flip_gamma", 4, config)
    np.testing.assert_array_equal(first.image, again.image)
    assert not np.array_equal(first.image, other.image)
    assert first.augmentation == "ud_flip_gamma" and first.origin_id == chip.origin_id
