"""Evaluation of tiny trained runs: ensembles, reports, comparison tables and bad inputs."""

import csv
import json
import shutil

import numpy as np
import pytest
from helpers import assert_one_line_error, run

from lim_tf.config import DataConfig, SplitConfig
from lim_tf.data.build import build_dataset
from lim_tf.data.records import read_records
from lim_tf.models import load_model
from lim_tf.trained.ensemble import load_run

pytestmark = pytest.mark.slow


def test_ensemble_is_the_mean_of_the_fold_models(trained):
    _, _, run_dir = trained
    ensemble, _ = load_run(run_dir)
    x = np.random.default_rng(0).uniform(0, 255, (2, 32, 32, 3)).astype(np.float32)
    manual = np.mean([np.asarray(load_model(run_dir / f"fold{k}/model.keras")(x))[..., 0] for k in (0, 1)], axis=0)
    np.testing.assert_allclose(ensemble.predict(x), manual, atol=1e-5)  # eager vs compiled rounding
    single, _ = load_run(run_dir, fold=1)
    np.testing.assert_allclose(single.predict(x), np.asarray(load_model(run_dir / "fold1/model.keras")(x))[..., 0],
                               atol=1e-5)


def test_eval_cli_writes_consistent_reports(trained, tmp_path):
    _, records, run_dir = trained
    out = tmp_path / "eval"
    result = run("eval", run_dir, "--out", out, "--threshold", "optimal", "--figures", "2")
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["models"] == ["fold0/model.keras", "fold1/model.keras"]
    assert metrics["threshold_source"] == "F1-optimal on validation folds"  # one spelling, as train writes it
    with (out / "per_image.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    chips = list(read_records([records / f for f in json.loads((records / "manifest.json").read_text())["files"]["test"]]))
    assert len(rows) == metrics["images"] == len(chips) == 3  # 2 landslide chips and 1 of the 4 others
    for key in ("tp", "fp", "fn", "tn"):
        assert sum(int(r[key]) for r in rows) == metrics["confusion"][key]
        assert (metrics["landslide_chips"]["confusion"][key] + metrics["non_landslide_chips"]["confusion"][key]
                == metrics["confusion"][key])
    assert sum(metrics["confusion"].values()) == sum(c.mask.size for c in chips)  # whole chips, every pixel
    assert (metrics["landslide_chips"]["images"], metrics["non_landslide_chips"]["images"]) == (2, 1)
    nls = metrics["non_landslide_chips"]["confusion"]
    assert nls["tp"] == nls["fn"] == 0
    assert (out / "pr_curve.png").stat().st_size > 0 and len(list((out / "figures").glob("*.png"))) == 2


def test_turns_default_to_the_runs_own_and_the_option_wins(trained, tmp_path):
    _, _, run_dir = trained  # a run whose threshold was chosen with 0 and 180 degrees averaged
    shutil.copytree(run_dir, tmp_path / "r")
    state = json.loads((tmp_path / "r/run.json").read_text())
    (tmp_path / "r/run.json").write_text(json.dumps({**state, "turns": 2}))
    used = {}
    for name, extra in (("run", ()), ("alone", ("--tta",)), ("one", ("--tta", "1"))):
        result = run("eval", tmp_path / "r", "--fold", "0", "--out", tmp_path / name, "--figures", "0", *extra)
        assert result.exit_code == 0, result.output
        used[name] = json.loads((tmp_path / name / "metrics.json").read_text())["tta"]
    assert used == {"run": 2, "alone": 4, "one": 1}
    assert_one_line_error(run("eval", tmp_path / "r", "--tta", "5", "--out", tmp_path / "x"), "--tta")


def test_comparison_table_has_a_column_per_run(trained, tmp_path):
    _, _, run_dir = trained
    shutil.copytree(run_dir, tmp_path / "other")
    out = tmp_path / "cmp"
    result = run("eval", run_dir, tmp_path / "other", "--out", out, "--fold", "0", "--figures", "0")
    assert result.exit_code == 0, result.output
    table = (out / "comparison.md").read_text().splitlines()
    assert table[0] == "| metric | run | other |"
    assert [line.split("|")[1].strip() for line in table[2:]] == [
        "accuracy", "recall", "f1", "miou", "precision", "iou_landslide", "false_positive_m2_per_km2",
        "recall (landslide chips only)", "f1 (landslide chips only)", "precision (landslide chips only)",
        "iou_landslide (landslide chips only)",
        "precision (at 2.60 non-landslide chips per landslide chip)", "f1 (at 2.60 non-landslide chips per landslide chip)",
        "landslide chips with a landslide found (share)", "non-landslide chips with a false alarm (share)",
        "landslides detected (every polygon)", "polygons that are real (every polygon)",
        "landslides detected (every polygon, at the real mix)", "polygons that are real (every polygon, at the real mix)"]
    first = json.loads((out / "run/metrics.json").read_text())
    assert f"| f1 | {first['f1']:.4f} |" in "\n".join(table)


def test_eval_on_image_folders(trained, tmp_path):
    root, _, run_dir = trained
    (tmp_path / "f/images").mkdir(parents=True)
    (tmp_path / "f/masks").mkdir()
    for path in sorted((root / "bijie/landslide/image").glob("*.png"))[:3]:
        shutil.copy(path, tmp_path / "f/images" / path.name)
        shutil.copy(root / "bijie/landslide/mask" / path.name, tmp_path / "f/masks" / path.name)
    assert_one_line_error(run("eval", run_dir, "--images", tmp_path / "f", "--out", tmp_path / "o"),
                          "pixel size is unknown", "--source-resolution")
    result = run("eval", run_dir, "--images", tmp_path / "f", "--out", tmp_path / "o", "--source-resolution", "0.8")
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "o/metrics.json").read_text())["images"] == 3
    (tmp_path / "f/masks" / path.name).unlink()
    assert_one_line_error(run("eval", run_dir, "--images", tmp_path / "f", "--out", tmp_path / "o2",
                              "--source-resolution", "0.8"), "no mask")
    assert not (tmp_path / "o2").exists()


def test_bad_evaluation_inputs(trained, tmp_path):
    root, records, run_dir = trained
    empty = tmp_path / "empty"
    empty.mkdir()
    assert_one_line_error(run("eval", empty), "not a training run")
    unfinished = tmp_path / "unfinished"
    shutil.copytree(run_dir, unfinished)
    state = json.loads((unfinished / "run.json").read_text())
    state["ensemble"]["models"] = []
    (unfinished / "run.json").write_text(json.dumps(state))
    assert_one_line_error(run("eval", unfinished), "no finished fold model")
    no_test = tmp_path / "no_test"
    build_dataset(root / "bijie", no_test, DataConfig(split=SplitConfig(test_landslide=0, folds=2)), progress=False)
    assert_one_line_error(run("eval", run_dir, "--records", no_test, "--out", tmp_path / "x"), "no test split")
    from lim_tf.config import SourceConfig

    dem_root = root / "bijie"
    four = tmp_path / "four"
    for folder in ("landslide", "non-landslide"):
        shutil.copytree(dem_root / folder / "image", tmp_path / "b4" / folder / "image")
        shutil.copytree(dem_root / folder / "image", tmp_path / "b4" / folder / "dem")
    shutil.copytree(dem_root / "landslide/mask", tmp_path / "b4/landslide/mask")
    build_dataset(tmp_path / "b4", four, DataConfig(source=SourceConfig(include_dem=True),
                                                    split=SplitConfig(test_landslide=2, folds=2)), progress=False)
    assert_one_line_error(run("eval", run_dir, "--records", four, "--out", tmp_path / "y"), "4 bands", "takes 3")
    assert_one_line_error(run("eval", run_dir, "--threshold", "high"), "--threshold")


def test_eval_on_a_bijie_layout_folder(trained, tmp_path):
    root, _, run_dir = trained  # non-landslide/ holds images only: they are scored as all background
    result = run("eval", run_dir, "--images", root / "bijie", "--out", tmp_path / "o", "--figures", "0")
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "o/metrics.json").read_text())
    assert (metrics["images"], metrics["landslide_chips"]["images"], metrics["non_landslide_chips"]["images"]) == (12, 8, 4)


@pytest.mark.parametrize("turns", [2, 3, 4])
def test_tta_is_the_mean_of_the_turned_predictions(turns):
    import keras

    from lim_tf.trained.ensemble import Ensemble

    inputs = keras.Input((None, None, 3))
    conv = keras.layers.Conv2D(1, 5, padding="same", activation="sigmoid",
                               kernel_initializer=keras.initializers.RandomNormal(stddev=0.05, seed=1))
    model = keras.Model(inputs, conv(inputs))  # an asymmetric kernel: orientation matters
    x = np.random.default_rng(1).uniform(0, 255, (2, 40, 28, 3)).astype(np.float32)  # not square
    plain = Ensemble([model], ["m"])

    def turned(images, k):  # numpy's own quarter turns, undone on the prediction
        return np.rot90(plain.predict(np.ascontiguousarray(np.rot90(images, k, axes=(1, 2)))), -k, axes=(1, 2))

    degrees = {2: (0, 2), 3: (0, 2, 1), 4: (0, 2, 1, 3)}[turns]  # 0 and 180 first, then 90 and 270
    tta = Ensemble([model], ["m"], turns=turns).predict(x)
    np.testing.assert_allclose(tta, np.mean([turned(x, k) for k in degrees], axis=0), atol=1e-6)
    assert np.abs(tta - plain.predict(x)).max() > 0.05


@pytest.fixture(scope="module")
def coarse_run(tmp_path_factory):
    """A one-fold tiny model trained on records brought from 0.8 m to 1.6 m, with its source folder."""
    from conftest import TINY_RUN
    from helpers import write_bijie

    from lim_tf.config import ChipConfig, resolve_train_config
    from lim_tf.training.train import train

    root = tmp_path_factory.mktemp("coarse")
    source = write_bijie(root / "bijie", landslides=8, backgrounds=6, seed=11)
    records = root / "records"
    build_dataset(source, records, DataConfig(chip=ChipConfig(resolution=1.6), split=SplitConfig(test_landslide=3, folds=2)),
                  progress=False)
    train(records, root / "run", resolve_train_config("fcn-fl", overrides={**TINY_RUN, "epochs": 2}), progress=False)
    return source, records, root / "run"


def test_scores_on_records_and_on_their_source_images_agree(coarse_run, tmp_path):
    source, records, run_dir = coarse_run
    test_ids = [c.chip_id for c in read_records([records / f for f in
                                                 json.loads((records / "manifest.json").read_text())["files"]["test"]])]
    for chip_id in test_ids:  # the test chips' source images, in the Bijie layout
        kind, stem = chip_id.split("/")
        (tmp_path / "held" / kind / "image").mkdir(parents=True, exist_ok=True)
        shutil.copy(source / kind / "image" / f"{stem}.png", tmp_path / "held" / kind / "image")
        if kind == "landslide":
            (tmp_path / "held/landslide/mask").mkdir(exist_ok=True)
            shutil.copy(source / kind / "mask" / f"{stem}.png", tmp_path / "held/landslide/mask")
    (tmp_path / "held/non-landslide/image").mkdir(parents=True, exist_ok=True)
    on_records = run("eval", run_dir, "--out", tmp_path / "r", "--threshold", "0.3", "--figures", "0")
    on_images = run("eval", run_dir, "--images", tmp_path / "held", "--out", tmp_path / "i", "--threshold", "0.3",
                    "--figures", "0")
    assert on_records.exit_code == 0 and on_images.exit_code == 0, on_records.output + on_images.output
    a = json.loads((tmp_path / "r/metrics.json").read_text())
    b = json.loads((tmp_path / "i/metrics.json").read_text())
    assert a["resolution_m"] == b["resolution_m"] == 1.6
    assert a["images"] == b["images"] == len(test_ids)
    assert abs(a["f1"] - b["f1"]) <= 0.03
    assert a["confusion"] == b["confusion"]  # one resampling rule for both: the same pixels


def test_optimal_threshold_comes_from_the_runs_own_folds_whatever_is_scored(trained, tmp_path):
    root, records, run_dir = trained
    other = tmp_path / "other"
    build_dataset(root / "bijie", other, DataConfig(split=SplitConfig(test_landslide=1.0, test_non_landslide=1.0,
                                                                      folds=0)), progress=False)
    own = run("eval", run_dir, "--threshold", "optimal", "--out", tmp_path / "own", "--figures", "0")
    theirs = run("eval", run_dir, "--records", other, "--threshold", "optimal", "--out", tmp_path / "theirs",
                 "--figures", "0")
    assert own.exit_code == 0 and theirs.exit_code == 0, own.output + theirs.output
    a = json.loads((tmp_path / "own/metrics.json").read_text())
    b = json.loads((tmp_path / "theirs/metrics.json").read_text())
    assert a["threshold"] == b["threshold"]  # picked on the run's validation folds both times
    assert b["images"] == 12  # a test-only set: every chip of the other records


def test_false_alarm_area_and_counts_on_a_hand_worked_case(tmp_path):
    """A model that flags band 1 >= 128: one empty chip with 7 bright pixels of 100, one landslide
    chip whose 4 landslide pixels are 3 bright and 1 dark, plus 2 bright background pixels."""
    from lim_tf.evaluate import evaluate
    from lim_tf.models import load_model
    from lim_tf.testing import threshold_model
    from lim_tf.trained.ensemble import Ensemble

    model = Ensemble([load_model(threshold_model(tmp_path / "m.keras"))], ["m"])
    empty = np.zeros((10, 10, 3), np.uint8)
    empty[0, :7, 0] = 200
    chip = np.zeros((10, 10, 3), np.uint8)
    mask = np.zeros((10, 10), np.uint8)
    mask[5, 5:9] = 1
    chip[5, 5:8, 0] = 200  # 3 of the 4 landslide pixels found
    chip[0, 0:2, 0] = 200  # 2 false alarms on the landslide chip
    metrics = evaluate(model, [("nls_1", empty, np.zeros((10, 10), np.uint8)), ("ls_1", chip, mask)], 0.5,
                       progress=False).metrics()
    assert metrics["confusion"] == {"tp": 3, "fp": 9, "fn": 1, "tn": 187}
    assert metrics["non_landslide_chips"]["false_positive_m2_per_km2"] == 70_000  # 7 of 100 empty pixels
    assert metrics["precision"] == pytest.approx(3 / 12) and metrics["recall"] == pytest.approx(3 / 4)


def test_eval_groups_polygons_as_the_confidence_model_learnt_them(tmp_path):
    """The model flags band 1 >= 129 at the threshold 0.6 and >= 128 at the group 0.3. Two bright
    fragments joined by a 128 bridge over a landslide make one polygon when grouped, which its
    drawn fragments do not make real; without grouping they are two false ones. The pixel scores
    stay at the threshold either way."""
    from lim_tf.evaluate import evaluate
    from lim_tf.models import load_model
    from lim_tf.testing import threshold_model
    from lim_tf.trained.ensemble import Ensemble

    model = Ensemble([load_model(threshold_model(tmp_path / "m.keras"))], ["m"])
    chip = np.zeros((5, 13, 3), np.uint8)
    chip[2, 1:3, 0] = chip[2, 5:7, 0] = 200
    chip[2, 3:5, 0] = 128
    mask = np.zeros((5, 13), np.uint8)
    mask[1:4, 3:5] = 1
    items = [("ls_1", chip, mask)]
    plain = evaluate(model, items, 0.6, progress=False)
    grouped = evaluate(model, items, 0.6, progress=False, group=0.3)
    assert len(plain.polygons.polygons) == 2 and len(grouped.polygons.polygons) == 1
    assert grouped.polygons.polygons[0].area_m2 == 6.0 and not grouped.polygons.polygons[0].real
    assert grouped.polygon_scores()["group"] == 0.3 and plain.polygon_scores()["group"] is None
    assert grouped.metrics()["confusion"] == plain.metrics()["confusion"]
