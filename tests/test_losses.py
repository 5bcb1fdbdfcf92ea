import math

import keras
import numpy as np
import pytest

from lim_tf.training.losses import FocalLoss, WeightedCrossEntropy, focal_loss, tversky_loss


def one(y: float, p: float, **kwargs) -> float:
    return float(focal_loss(np.array([[y]], np.float32), np.array([[p]], np.float32), **kwargs)[0])


def test_closed_form_values_under_both_conventions():
    # Landslide pixel predicted 0.8: q_t = 0.8.
    assert math.isclose(one(1, 0.8, alpha_for="background"), -0.75 * 0.2 ** 1.75 * math.log(0.8), rel_tol=1e-5)
    assert math.isclose(one(1, 0.8, alpha_for="landslide"), -0.25 * 0.2 ** 1.75 * math.log(0.8), rel_tol=1e-5)
    # Background pixel predicted 0.8: q_t = 0.2.
    assert math.isclose(one(0, 0.8, alpha_for="background"), -0.25 * 0.8 ** 1.75 * math.log(0.2), rel_tol=1e-5)
    assert math.isclose(one(0, 0.8, alpha_for="landslide"), -0.75 * 0.8 ** 1.75 * math.log(0.2), rel_tol=1e-5)


@pytest.mark.parametrize("gamma", [0.0, 1.0, 1.75, 2.0])
def test_matches_keras_binary_focal_crossentropy(gamma):
    rng = np.random.default_rng(0)
    y = (rng.random((2, 8, 8, 1)) > 0.8).astype(np.float32)
    p = rng.random((2, 8, 8, 1)).astype(np.float32)
    expected = keras.losses.BinaryFocalCrossentropy(apply_class_balancing=True, alpha=0.25, gamma=gamma)(y, p)
    ours = FocalLoss(alpha=0.25, gamma=gamma, alpha_for="landslide")(y, p)
    assert math.isclose(float(ours), float(expected), rel_tol=1e-5)


def test_gamma_zero_without_weights_is_binary_cross_entropy():
    rng = np.random.default_rng(1)
    y = (rng.random((3, 5, 5, 1)) > 0.5).astype(np.float32)
    p = rng.random((3, 5, 5, 1)).astype(np.float32)
    expected = float(keras.losses.BinaryCrossentropy()(y, p))
    assert math.isclose(float(FocalLoss(alpha=None, gamma=0.0)(y, p)), expected, rel_tol=1e-5)
    assert math.isclose(float(WeightedCrossEntropy()(y, p)), expected, rel_tol=1e-5)


def test_stable_at_certain_predictions_and_from_logits():
    y = np.array([[1.0], [0.0], [1.0], [0.0]], np.float32)
    p = np.array([[0.0], [1.0], [1.0], [0.0]], np.float32)
    assert np.all(np.isfinite(focal_loss(y, p)))
    logits = np.array([[-100.0], [100.0], [100.0], [-100.0]], np.float32)
    values = np.asarray(focal_loss(y, logits, from_logits=True))
    assert np.all(np.isfinite(values)) and values[2] == 0 and values[3] == 0
    # Moderate logits agree with probabilities.
    z = np.array([[0.3], [-1.2]], np.float32)
    np.testing.assert_allclose(focal_loss(y[:2], z, from_logits=True), focal_loss(y[:2], 1 / (1 + np.exp(-z))), rtol=1e-5)


def test_ignored_pixels_do_not_count():
    y = np.array([[[[1.0], [0.0]]]], np.float32)
    p = np.array([[[[0.3], [0.9]]]], np.float32)
    weight = np.array([[[1.0, 0.0]]], np.float32)
    loss = FocalLoss(reduction="sum")(y, p, sample_weight=weight)
    assert math.isclose(float(loss), one(1, 0.3), rel_tol=1e-5)


def test_config_round_trip():
    loss = FocalLoss(alpha=0.4, gamma=2.5, alpha_for="landslide", tversky_weight=0.5)
    restored = keras.losses.deserialize(keras.losses.serialize(loss))
    assert isinstance(restored, FocalLoss) and restored.get_config() == loss.get_config()


def test_dice_is_zero_for_a_perfect_prediction_and_one_for_disjoint():
    y = np.zeros((1, 4, 4, 1), np.float32)
    y[0, :2] = 1
    assert float(tversky_loss(y, y, smooth=0)[0]) == 0
    assert float(tversky_loss(y, 1 - y, smooth=0)[0]) == 1
