"""Shipped models: listed, loadable without running code, usable by name wherever a run is, and true
to their model cards."""

import json
import os
from pathlib import Path

import h5py
import numpy as np
import pytest
from conftest import shared_path
from helpers import assert_one_line_error, run
from rasterio.transform import from_origin

from lim_tf import zoo
from lim_tf.errors import InputError
from lim_tf.testing import write_rgb_scene as write_scene
from lim_tf.zoo.card import ModelCard

NAMES = zoo.names()
pytestmark = pytest.mark.skipif(not NAMES, reason="no shipped model in lim_tf/zoo")


@pytest.fixture(scope="module")
def name() -> str:
    return NAMES[0]


def test_models_lists_each_card(name):
    result = run("models")
    assert result.exit_code == 0 and f"{name}:" in result.output
    card = json.loads(run("models", name, "--json").output)
    for key in ("bands", "resolution_m", "threshold", "scores", "licence", "command", "limits", "preprocessing",
                "map_cost"):
        assert key in card, key
    assert card["scores"]["test"]["f1"] > 0
    assert f"map cost: {card['map_cost']}" in run("models", name).output


def test_kernels_are_float16_without_optimizer_state(name):
    with h5py.File(zoo.weights_path(name)) as file:
        kernels = []  # convolution kernels, nearly all the bytes, are stored as float16
        file.visititems(lambda key, item: kernels.append(item.dtype) if isinstance(item, h5py.Dataset)
                        and item.ndim >= 2 else None)
        assert not any("optimizer" in key for key in file)
    assert kernels and set(kernels) == {np.dtype("float16")}
    assert zoo.weights_path(name).stat().st_size < 8 * 2**20


def test_an_unknown_name_lists_the_shipped_ones(tmp_path, name):
    scene = write_scene(tmp_path / "scene.tif", "EPSG:32648", from_origin(500000, 3000000, 1, 1),
                        np.zeros((32, 32), np.uint8))
    old = os.getcwd()
    os.chdir(tmp_path)  # no folder of that name here
    try:
        assert_one_line_error(run("map", scene, "bijiee", tmp_path / "out"), "'bijiee'", name)
    finally:
        os.chdir(old)


def test_the_shipped_model_reproduces_its_cards_score_on_a_fixed_set(tmp_path, name):
    card = zoo.card(name)
    data = shared_path("bijie")
    folder = tmp_path / "fixed"
    for chip in card.other["fixed_set"]["ids"]:
        kind = "landslide" if chip.startswith("ls_") else "non-landslide"
        for part in ("image", "mask") if kind == "landslide" else ("image",):
            (folder / kind / part).mkdir(parents=True, exist_ok=True)
            os.symlink(data / kind / part / f"{chip}.png", folder / kind / part / f"{chip}.png")
    result = run("eval", name, "--images", folder, "--out", tmp_path / "eval", "--figures", "0")
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "eval/metrics.json").read_text())
    for key, value in card.other["fixed_set"]["scores"].items():
        assert abs(metrics[key] - value) <= 1e-3, key


def test_a_zoo_name_maps_and_exports(tmp_path, name):
    band = np.full((96, 96), 120, np.uint8)
    scene = write_scene(tmp_path / "scene.tif", "EPSG:32648", from_origin(500000, 3000000, 1.6, 1.6), band)
    result = run("map", scene, name, tmp_path / "map")
    assert result.exit_code == 0, result.output
    summary = json.loads((tmp_path / "map/summary.json").read_text())
    assert summary["models"] == [name] and summary["threshold"] == zoo.card(name).threshold
    result = run("export", name, tmp_path / "onnx", "--format", "onnx")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "onnx" / f"{name}.onnx").exists() and not Path(name).exists()


def test_the_readme_headline_is_the_cards():
    """The README's headline table shows the shipped card's scores, not numbers typed apart from it."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    scores = zoo.card("bijie2").scores
    for key in ("test", "test_at_kind_ratio"):
        s = scores[key]
        row = f"| {s['f1']:.3f} | {s['precision']:.3f} | {s['recall']:.3f} | {s['iou_landslide']:.3f} |"
        assert row in readme, f"README headline lacks the card's {key} row {row}"


def test_a_folder_named_like_a_shipped_model_says_which_is_used(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert zoo.shadowing(name) is None and zoo.is_zoo_name(name)
    (tmp_path / name).mkdir()  # a dataset folder of that name does not hide the shipped model
    assert zoo.is_zoo_name(name)
    assert zoo.shadowing(name) == f"{name}: ./{name} is not a run folder; using the shipped model {name}"
    (tmp_path / name / "run.json").write_text("{}")  # a run folder of that name is used, and says so
    assert not zoo.is_zoo_name(name)
    assert zoo.shadowing(name).startswith(f"{name}: using the run folder ./{name}, not the shipped model")


def test_a_card_reads_back_as_written(name, tmp_path):
    path = zoo.ZOO / f"{name}.json"
    card = ModelCard.load(path)
    assert card.to_json() == json.loads(path.read_text())  # nothing dropped, nothing added
    assert len(card.mean) == len(card.std) == len(card.bands) and 0 < card.threshold < 1


@pytest.mark.parametrize("change", [{"threshold": 1.5}, {"bands": []}, {"model": {"name": "resnet", "width": 1,
                                                                                   "batch_norm": True}},
                                    {"normalization": {"mean": [1.0], "std": [1.0]}}, {"scores": {}}])
def test_a_damaged_card_is_refused_naming_it(name, tmp_path, change):
    data = {**json.loads((zoo.ZOO / f"{name}.json").read_text()), **change}
    (tmp_path / "card.json").write_text(json.dumps(data))
    with pytest.raises(InputError, match=str(tmp_path / "card.json")):
        ModelCard.load(tmp_path / "card.json")
