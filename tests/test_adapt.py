"""Training from a finished model (--init-from): the start is exactly the source, other band counts are
refused in one line, the encoder can be held for the first epochs, and the run says where it began."""

import dataclasses
import json

import numpy as np
import pytest
import yaml
from conftest import TINY_RUN
from helpers import assert_one_line_error, run

from lim_tf.config import PRESETS, resolve_train_config
from lim_tf.data.manifest import load_manifest
from lim_tf.models import ModelConfig, build_model, load_model
from lim_tf.models.precision import resolve_precision
from lim_tf.trained.ensemble import Ensemble, load_run
from lim_tf.training.adapt import encoder_layers, initial_model, load_source


def test_the_initial_model_predicts_exactly_as_its_source(trained):
    _, records, run_folder = trained
    source = load_source(str(run_folder))
    manifest = load_manifest(records)  # the source's own records: the same band statistics
    policy = resolve_precision("auto")
    images = np.random.default_rng(0).uniform(0, 255, (2, 40, 56, 3)).astype(np.float32)
    expected = Ensemble([source.model], ["source"]).predict(images)
    for keep in (False, True):
        start = initial_model(source, manifest, policy, keep_normalization=keep)
        np.testing.assert_array_equal(Ensemble([start], ["start"]).predict(images), expected)
    # Other records' statistics: the normalisation follows them unless it is kept.
    shifted = dataclasses.replace(manifest, band_statistics=tuple(dataclasses.replace(s, mean=s.mean + 30)
                                                                  for s in manifest.band_statistics))
    kept = initial_model(source, shifted, policy, keep_normalization=True)
    np.testing.assert_array_equal(Ensemble([kept], ["kept"]).predict(images), expected)
    moved = initial_model(source, shifted, policy, keep_normalization=False)
    np.testing.assert_allclose(np.ravel(moved.get_layer("normalize").mean),
                               [s.mean for s in shifted.band_statistics], rtol=1e-6)
    assert not np.array_equal(Ensemble([moved], ["moved"]).predict(images), expected)


def test_a_source_with_other_bands_is_refused_naming_both(trained, tmp_path):
    _, records, _ = trained
    build_model(ModelConfig(name="unet", bands=4, width=1 / 16)).save(tmp_path / "four.keras")
    result = run("train", records, tmp_path / "run", "--init-from", tmp_path / "four.keras", "--epochs", "1")
    assert_one_line_error(result, "red,green,blue", "four.keras", "4 bands")
    assert not (tmp_path / "run").exists()


def test_a_frozen_encoder_keeps_the_sources_weights_and_the_run_names_its_source(trained, tmp_path):
    _, records, run_folder = trained
    out = tmp_path / "adapted"
    args = ["--width", "0.0625", "--batch-size", "4", "--tile", "32", "--epochs", "1", "--folds", "0",
            "--init-from", run_folder, "--freeze-encoder-epochs", "1", "--monitor", "val_loss"]
    result = run("train", records, out, *args)
    assert result.exit_code == 0, result.output
    state = json.loads((out / "run.json").read_text())
    assert state["init_from"] == str(run_folder)
    config = yaml.safe_load((out / "config.yaml").read_text())
    assert config["learning_rate"] == PRESETS["fcn-fl"].get("learning_rate", 1e-4) / 10
    assert config["model"] == "fcn-fl"  # the source's architecture
    source, _ = load_run(run_folder, 0)
    adapted = load_model(out / "fold0/model.keras")
    before = {w.path: np.asarray(w) for w in source.models[0].weights}
    frozen = {w.path for layer in encoder_layers(adapted) for w in layer.weights}
    assert frozen
    for weight in adapted.weights:
        if weight.path in frozen:
            np.testing.assert_array_equal(np.asarray(weight), before[weight.path], err_msg=weight.path)
    trainable = [w for w in adapted.trainable_weights if w.path not in frozen]
    assert any(not np.array_equal(np.asarray(w), before[w.path]) for w in trainable)


def test_an_explicit_learning_rate_wins_over_the_adaptation_default():
    config = resolve_train_config("fcn-fl", overrides={"init_from": "bijie", "learning_rate": 3e-4, **TINY_RUN})
    assert config.learning_rate == 3e-4


def test_zero_epochs_calibrates_a_finished_model_without_training(trained, tmp_path):
    """--epochs 0: the source's weights untouched, the records' band statistics in its normalisation,
    the threshold where F1 peaks on the records' labelled chips (an independent sweep agrees)."""
    import json

    import numpy as np

    from lim_tf.config import resolve_train_config
    from lim_tf.data.items import record_items
    from lim_tf.data.manifest import load_manifest
    from lim_tf.data.sample import IGNORE, LANDSLIDE
    from lim_tf.metrics import ThresholdSweep
    from lim_tf.trained.ensemble import load_run
    from lim_tf.training.train import train

    _, records, source = trained
    config = resolve_train_config("fcn-fl", overrides={"init_from": str(source / "fold0/model.keras"), "epochs": 0})
    state = train(records, tmp_path / "calibrated", config, progress=False)
    assert state.models == ["fold0/model.keras"] and json.loads(
        (tmp_path / "calibrated/run.json").read_text())["folds"]["0"]["epochs"] == 0
    calibrated, _ = load_run(tmp_path / "calibrated")
    original, _ = load_run(source, 0)
    for ours, theirs in zip(calibrated.models[0].weights, original.models[0].weights):
        if "normalize" not in ours.path:  # every weight copied; only the normalisation is the records'
            np.testing.assert_array_equal(np.asarray(ours), np.asarray(theirs))
    stats = load_manifest(records).band_statistics
    assert calibrated.normalization()[0] == pytest.approx([s.mean for s in stats], rel=1e-5)
    sweep = ThresholdSweep()
    for fold in range(load_manifest(records).folds):
        for _, image, mask in record_items(records, "val", fold).items:
            sweep.add(mask == LANDSLIDE, calibrated.predict(image[None])[0], mask != IGNORE)
    assert state.threshold == pytest.approx(sweep.best_threshold()[0], abs=1e-4)


def test_zero_epochs_needs_a_model_to_start_from(trained, tmp_path):
    from helpers import assert_one_line_error, run

    _, records, _ = trained
    assert_one_line_error(run("train", records, tmp_path / "run", "--epochs", "0"), "--epochs 0", "--init-from")
