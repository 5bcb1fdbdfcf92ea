"""XLA for the training step: chosen where it was measured faster, and the same arithmetic."""

from __future__ import annotations

import csv
import json

import keras
import numpy as np
import pytest
from conftest import TINY_RUN

from lim_tf.config import resolve_train_config
from lim_tf.models.xla import compile_training_step, explain_xla
from lim_tf.training.train import train


@pytest.mark.parametrize("policy, replicas, gpu, chosen", [
    ("float32", 1, False, True),  # AVX2 CPU: 1.25 x measured
    ("mixed_bfloat16", 1, False, False),  # bf16 CPU: 0.51 x measured
    ("float32", 2, False, False),  # mirrored: Keras does not compile it
    ("mixed_float16", 1, True, True),  # GPU: Keras's own default
    ("mixed_float16", 4, True, False),
])
def test_auto_compiles_where_xla_was_measured_faster(policy, replicas, gpu, chosen):
    xla, why = explain_xla("auto", policy, replicas, gpu=gpu)
    assert xla is chosen and why


def test_a_short_run_is_not_worth_compiling():
    assert explain_xla("auto", "float32", gpu=False, steps=499)[0] is False
    assert explain_xla("auto", "float32", gpu=False, steps=500)[0] is True
    assert explain_xla("on", "float32", gpu=False, steps=10) == (True, "as asked")


def test_an_explicit_setting_is_kept():
    assert explain_xla("on", "mixed_bfloat16", gpu=False) == (True, "as asked")
    assert explain_xla("off", "float32", gpu=False) == (False, "as asked")


def _model(seed: int) -> keras.Model:
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((None, None, 3))
    hidden = keras.layers.Conv2D(4, 3, padding="same", activation="relu")(inputs)
    outputs = keras.layers.Conv2D(1, 1, activation="sigmoid")(hidden)
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="binary_crossentropy")
    return model


def test_a_compiled_step_trains_as_the_plain_step_and_any_size_still_evaluates():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 16, 16, 3)).astype(np.float32)
    y = (rng.random((2, 16, 16, 1)) > 0.7).astype(np.float32)
    plain, compiled = _model(1), _model(1)
    compile_training_step(compiled, True)
    for _ in range(3):
        plain.train_on_batch(x, y)
        compiled.train_on_batch(x, y)
    assert compiled.jit_compile  # a step rebuilt later (encoder unfrozen) keeps XLA
    for a, b in zip(plain.get_weights(), compiled.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    for size in (8, 20):  # validation chips of several sizes: evaluated as without XLA
        chip = rng.normal(size=(1, size, size, 3)).astype(np.float32)
        truth = (rng.random((1, size, size, 1)) > 0.5).astype(np.float32)
        assert compiled.evaluate(chip, truth, verbose=0) == pytest.approx(plain.evaluate(chip, truth, verbose=0),
                                                                           rel=1e-5)


def test_a_run_asked_for_xla_trains_validates_and_says_so(records, tmp_path):  # noqa: F811
    config = resolve_train_config("unet", overrides={**TINY_RUN, "epochs": 2, "xla": "on"})
    train(records, tmp_path / "run", config, progress=False)
    fold = json.loads((tmp_path / "run" / "run.json").read_text())["folds"]["0"]
    assert fold["xla"] is True and fold["epochs"] == 2 and (tmp_path / "run" / fold["model"]).exists()
    with (tmp_path / "run" / "fold0" / "history.csv").open() as handle:  # validated on chips of several sizes
        assert [row["val_loss"] != "" for row in csv.DictReader(handle)] == [True, True]
