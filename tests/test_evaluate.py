"""Evaluation of tiny trained runs: ensembles, reports, comparison tables and bad inputs."""

import csv
import json
import shutil

import numpy as np
import pytest

from lim_tf.config import ChipConfig, DataConfig, SplitConfig
from lim_tf.data.build import build_dataset
from lim_tf.ensemble import load_run
from lim_tf.models import load_model
from test_cli_data import assert_one_line_error, run

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
    _, _, run_dir = trained
    out = tmp_path / "eval"
    result = run("eval", run_dir, "--out", out, "--threshold", "optimal", "--figures", "2")
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["models"] == ["fold0/model.keras", "fold1/model.keras"]
    assert metrics["threshold_source"].startswith("f1-optimal on validation")
    with (out / "per_image.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == metrics["images"] == 2
    for key in ("tp", "fp", "fn", "tn"):
        assert sum(int(r[key]) for r in rows) == metrics["confusion"][key]
    assert sum(metrics["confusion"].values()) == 2 * 32 * 32
    assert (out / "pr_curve.png").stat().st_size > 0 and len(list((out / "figures").glob("*.png"))) == 2


def test_comparison_table_has_a_column_per_run(trained, tmp_path):
    _, _, run_dir = trained
    shutil.copytree(run_dir, tmp_path / "other")
    out = tmp_path / "cmp"
    result = run("eval", run_dir, tmp_path / "other", "--out", out, "--fold", "0", "--figures", "0")
    assert result.exit_code == 0, result.output
    table = (out / "comparison.md").read_text().splitlines()
    assert table[0] == "| metric | run | other |"
    assert [line.split("|")[1].strip() for line in table[2:]] == ["accuracy", "recall", "f1", "miou", "precision",
                                                                   "iou_landslide"]
    first = json.loads((out / "run/metrics.json").read_text())
    assert f"| f1 | {first['f1']:.4f} |" in "\n".join(table)


def test_eval_on_image_folders(trained, tmp_path):
    root, _, run_dir = trained
    (tmp_path / "f/images").mkdir(parents=True)
    (tmp_path / "f/masks").mkdir()
    for path in sorted((root / "bijie/landslide/image").glob("*.png"))[:3]:
        shutil.copy(path, tmp_path / "f/images" / path.name)
        shutil.copy(root / "bijie/landslide/mask" / path.name, tmp_path / "f/masks" / path.name)
    result = run("eval", run_dir, "--images", tmp_path / "f", "--out", tmp_path / "o")
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "o/metrics.json").read_text())["images"] == 3
    (tmp_path / "f/masks" / path.name).unlink()
    assert_one_line_error(run("eval", run_dir, "--images", tmp_path / "f", "--out", tmp_path / "o2"), "no mask")
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
    build_dataset(root / "bijie", no_test, DataConfig(chip=ChipConfig(size=32), split=SplitConfig(test_landslide=0, folds=2)),
                  progress=False)
    assert_one_line_error(run("eval", run_dir, "--records", no_test, "--out", tmp_path / "x"), "no test split")
    from lim_tf.config import SourceConfig

    dem_root = root / "bijie"
    four = tmp_path / "four"
    for folder in ("landslide", "non-landslide"):
        shutil.copytree(dem_root / folder / "image", tmp_path / "b4" / folder / "image")
        shutil.copytree(dem_root / folder / "image", tmp_path / "b4" / folder / "dem")
    shutil.copytree(dem_root / "landslide/mask", tmp_path / "b4/landslide/mask")
    build_dataset(tmp_path / "b4", four, DataConfig(source=SourceConfig(include_dem=True), chip=ChipConfig(size=32),
                                                    split=SplitConfig(test_landslide=2, folds=2)), progress=False)
    assert_one_line_error(run("eval", run_dir, "--records", four, "--out", tmp_path / "y"), "4 bands", "takes 3")
    assert_one_line_error(run("eval", run_dir, "--threshold", "high"), "--threshold")
