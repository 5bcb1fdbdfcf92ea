"""Training end to end at tiny sizes: the CLI, TensorBoard logs, two replicas, resume and NaN."""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import h5py
import keras
import numpy as np
import pytest
import tensorflow as tf
from conftest import TINY_RUN
from helpers import assert_one_line_error, run

from lim_tf.config import resolve_train_config
from lim_tf.errors import OutputError, TrainingError
from lim_tf.models import load_model
from lim_tf.training.train import train

pytestmark = pytest.mark.slow
TINY = {"width": 1 / 16, "batch_size": 4, "tile": 32, "log_images": 2}



def event_tags(folder: Path) -> set[str]:
    tags = set()
    for path in folder.rglob("events.out.tfevents.*"):
        for event in tf.compat.v1.train.summary_iterator(str(path)):
            tags |= {value.tag for value in event.summary.value}
    return tags


def epochs_in(history: Path) -> list[int]:
    with history.open() as handle:
        return [int(row["epoch"]) for row in csv.DictReader(handle)]


def test_two_fold_run_through_the_cli(records, tmp_path):
    result = run("train", records, tmp_path / "run", "--preset", "fcn-flk", "--width", "0.0625", "--epochs", "2",
                 "--batch-size", "4", "--tile", "32")
    assert result.exit_code == 0, result.output
    state = json.loads((tmp_path / "run/run.json").read_text())
    assert state["ensemble"] == {"combine": "mean", "models": ["fold0/model.keras", "fold1/model.keras"]}
    for fold in (0, 1):
        assert epochs_in(tmp_path / f"run/fold{fold}/history.csv") == [0, 1]
        model = load_model(tmp_path / f"run/fold{fold}/model.keras")
        assert model.output.shape[-1] == 1 and model.input.shape[-1] == 3
    tags = event_tags(tmp_path / "run/logs/fold0")
    assert {"epoch_loss", "epoch_f1", "epoch_iou", "epoch_learning_rate"} <= tags
    assert "validation/image_truth_prediction" in tags
    assert {"_hparams_/session_start_info", "hparams/val_f1", "hparams/val_loss"} <= tags  # the HParams view
    resolved = (tmp_path / "run/config.yaml").read_text()
    assert "gamma: 1.75" in resolved and "alpha_for: background" in resolved


def test_bad_training_requests(records, tmp_path):
    assert_one_line_error(run("train", records, tmp_path / "r", "--folds", "5"), "fold 5 is out of range")
    assert not (tmp_path / "r").exists()  # refused before the run folder is made
    (tmp_path / "c.yaml").write_text("folds: [9]\n")  # the same from a config file: the line names the file
    assert_one_line_error(run("train", records, tmp_path / "r1", "--config", tmp_path / "c.yaml"), "c.yaml")
    assert_one_line_error(run("train", records, tmp_path / "r2", "--preset", "deeplab"), "deeplab")
    assert_one_line_error(run("train", tmp_path / "nothing", tmp_path / "r3"), "no manifest.json")


def test_two_replicas_mirror_over_logical_cpus(records, tmp_path):
    # Logical devices must be configured before TensorFlow starts: a fresh process.
    command = [sys.executable, "-m", "lim_tf_cli.main", "-q", "train", str(records), str(tmp_path / "run"),
               "--width", "0.0625", "--epochs", "1", "--batch-size", "4", "--tile", "32", "--cpu-replicas", "2"]
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert done.returncode == 0, done.stderr[-2000:]
    state = json.loads((tmp_path / "run/run.json").read_text())
    assert state["folds"]["0"]["replicas"] == 2 and state["folds"]["0"]["xla"] is False  # not with mirroring


class Interrupt(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == 1:
            raise KeyboardInterrupt


class PoisonWeights(keras.callbacks.Callback):
    """Sets the final score layer to NaN after the first step, as a diverging run would."""

    def on_train_batch_end(self, batch, logs=None):
        if batch == 0:
            layer = self.model.get_layer("score_fr")
            layer.set_weights([np.full_like(w, np.nan) for w in layer.get_weights()])


def test_folds_trained_in_fresh_processes_equal_folds_trained_in_this_one(trained, tmp_path):
    root, records, isolated = trained  # the session run trains its two folds one process each
    state = json.loads((isolated / "run.json").read_text())
    config = resolve_train_config("fcn-flk", overrides=TINY_RUN)
    here = train(records, tmp_path / "run", config, progress=False, isolate=False)
    x = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype(np.float32)
    for fold in ("0", "1"):
        assert state["folds"][fold]["own_process"] and not here.folds[fold].own_process
        assert state["folds"][fold]["best"] == here.folds[fold].best
        np.testing.assert_array_equal(np.asarray(load_model(isolated / f"fold{fold}/model.keras")(x)),
                                      np.asarray(load_model(tmp_path / f"run/fold{fold}/model.keras")(x)))


def test_nan_loss_stops_the_fold_and_says_where(records, tmp_path):
    config = resolve_train_config("fcn-fl", overrides={**TINY, "epochs": 2, "log_images": 0})
    with pytest.raises(TrainingError, match="NaN at epoch 1, step 2"):
        train(records, tmp_path / "run", config, progress=False, callbacks=[PoisonWeights()])
    assert not (tmp_path / "run/fold0/model.keras").exists()


def test_nan_pixels_are_refused_when_records_are_built(tmp_path):
    root = tmp_path / "l4s"
    (root / "img").mkdir(parents=True)
    (root / "mask").mkdir()
    image = np.random.default_rng(0).random((16, 16, 14))
    image[3, 3, 0] = np.nan
    with h5py.File(root / "img/image_1.h5", "w") as f:
        f["img"] = image
    with h5py.File(root / "mask/mask_1.h5", "w") as f:
        f["mask"] = np.eye(16, dtype=np.uint8)
    assert_one_line_error(run("data", "build", root, tmp_path / "o", "--format", "l4s"), "image_1", "NaN")


def test_unwritable_run_folder(records, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert_one_line_error(run("train", records, blocker / "run", "--epochs", "1"), "cannot write here")


def test_resume_with_records_of_other_bands_is_refused(records, tmp_path):
    config = resolve_train_config("fcn-fl", overrides={**TINY, "epochs": 1, "log_images": 0})
    train(records, tmp_path / "run", config, progress=False)
    manifest = json.loads((records / "manifest.json").read_text())  # edited by hand, as a user might
    manifest["band_names"] = ["B4", "B3", "B2", "dem"]
    manifest["band_statistics"].append(dict(manifest["band_statistics"][0], name="dem"))
    (records / "manifest.json").write_text(json.dumps(manifest))
    assert_one_line_error(run("train", records, tmp_path / "run", "--resume"), "do not match the run's")


def test_a_resumed_run_ends_exactly_where_an_uninterrupted_one_does(records, tmp_path):
    """Interrupted after its second epoch, a run refuses to start again without --resume, resumes
    from its backup without losing an epoch, ends with the uninterrupted run's history and weights,
    and once finished is not trained again."""
    config = resolve_train_config("fcn-fl", overrides={**TINY, "epochs": 3, "log_images": 0})
    train(records, tmp_path / "whole", config, progress=False, isolate=False)
    with pytest.raises(KeyboardInterrupt):
        train(records, tmp_path / "cut", config, progress=False, callbacks=[Interrupt()])
    assert epochs_in(tmp_path / "cut/fold0/history.csv") == [0, 1]
    assert (tmp_path / "cut/fold0/backup/epoch-00001.npz").exists()
    with pytest.raises(OutputError, match="--resume"):
        train(records, tmp_path / "cut", config, progress=False)
    train(records, tmp_path / "cut", config, resume=True, progress=False, isolate=False)
    assert not (tmp_path / "cut/fold0/backup").exists()  # a finished fold keeps no backup

    def rows(run):
        with (run / "fold0/history.csv").open() as handle:
            return [(r["epoch"], r["loss"], r["val_loss"]) for r in csv.DictReader(handle)]

    assert [r[0] for r in rows(tmp_path / "cut")] == ["0", "1", "2"]
    assert rows(tmp_path / "cut") == rows(tmp_path / "whole")
    x = np.random.default_rng(3).uniform(0, 255, (2, 40, 36, 3)).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(load_model(tmp_path / "cut/fold0/model.keras")(x)),
                                  np.asarray(load_model(tmp_path / "whole/fold0/model.keras")(x)))
    stamp = (tmp_path / "cut/fold0/model.keras").stat().st_mtime_ns
    train(records, tmp_path / "cut", config, resume=True, progress=False, isolate=False)  # finished: not retrained
    assert (tmp_path / "cut/fold0/model.keras").stat().st_mtime_ns == stamp


def test_history_is_cut_back_to_the_restored_epoch(tmp_path):
    from lim_tf.training.callbacks import keep_history_before

    history = tmp_path / "history.csv"
    history.write_text("epoch,loss\n0,0.5\n1,0.4\n2,0.3\n3,0.")  # a kill cut the last row short
    keep_history_before(history, 2)
    assert history.read_text().splitlines() == ["epoch,loss", "0,0.5", "1,0.4"]
    keep_history_before(history, 0)
    assert not history.exists()


def test_a_run_keeps_the_threshold_its_validation_folds_chose(trained):
    """Each fold's threshold is the one logged at the epoch with the highest validation F1 (found
    here from the history, not from the run's record of its best epoch), unless that optimum is 0
    (no skill on validation: the fold then leaves the run its set threshold); the run's is the mean
    of the folds' own, or its set threshold when no fold has one."""
    _, _, run_dir = trained
    state = json.loads((run_dir / "run.json").read_text())
    chosen = []
    for fold in ("0", "1"):
        with (run_dir / f"fold{fold}/history.csv").open() as handle:
            validated = [r for r in csv.DictReader(handle) if r["val_best_f1"] not in ("", "NA")]
        best = max(validated, key=lambda r: float(r["val_best_f1"]))
        informative = float(best["val_best_f1"]) > 0 and float(best["val_best_threshold"]) > 0
        expected = float(best["val_best_threshold"]) if informative else None
        assert state["folds"][fold]["threshold"] == expected
        chosen += [expected] if informative else []
    if chosen:
        assert state["threshold"] == pytest.approx(sum(chosen) / len(chosen))
        assert state["threshold_source"] == "F1-optimal on validation folds"
    else:
        assert (state["threshold"], state["threshold_source"]) == (0.5, "the run's setting")


def test_validation_that_finds_nothing_does_not_set_a_zero_threshold(tmp_path):
    from lim_tf.training.train import _best_threshold

    history = tmp_path / "history.csv"
    history.write_text("epoch,val_best_f1,val_best_threshold\n0,0.0,0.0\n1,0.4,0.3\n2,0.69,0.0\n")
    assert _best_threshold(history, 0, 0.5) is None  # F1 0 everywhere: its 'optimum' 0 would flag every pixel
    assert _best_threshold(history, 1, 0.5) == 0.3
    assert _best_threshold(history, 2, 0.5) is None  # a history from before BestF1 left out calling all a landslide
