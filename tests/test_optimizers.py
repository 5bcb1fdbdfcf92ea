import keras
import numpy as np
import pytest
import tensorflow as tf

from lim_tf.training.optimizers import FusedAdam, make_optimizer


def _train(optimizer, steps: int = 5) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    variables = [keras.Variable(rng.normal(size=shape).astype(np.float32)) for shape in [(3, 4), (7,)]]
    for _ in range(steps):
        grads = [tf.constant(rng.normal(size=v.shape).astype(np.float32)) for v in variables]
        optimizer.apply(grads, variables)
    return [np.asarray(v) for v in variables]


def test_fused_adam_follows_keras_adam_step_for_step():
    ours = _train(FusedAdam(0.05, beta_1=0.8, beta_2=0.95, epsilon=1e-3))
    theirs = _train(keras.optimizers.Adam(0.05, beta_1=0.8, beta_2=0.95, epsilon=1e-3))
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_fused_adam_moves_against_the_gradient_by_the_learning_rate_on_its_first_step():
    # Step one of Adam is lr * g / (|g| + eps): a closed form independent of Keras.
    variable = keras.Variable(np.zeros(3, np.float32))
    FusedAdam(0.1, epsilon=1e-7).apply([tf.constant([2.0, -0.5, 0.0])], [variable])
    np.testing.assert_allclose(np.asarray(variable), [-0.1, 0.1, 0.0], atol=1e-6)


def test_make_optimizer_wraps_float16_training_in_loss_scaling():
    assert isinstance(make_optimizer("adam", 1e-3, "mixed_float16"), keras.optimizers.LossScaleOptimizer)
    assert isinstance(make_optimizer("adam", 1e-3, "mixed_bfloat16"), FusedAdam)
    with pytest.raises(ValueError):
        make_optimizer("adagrad", 1e-3, "float32")
