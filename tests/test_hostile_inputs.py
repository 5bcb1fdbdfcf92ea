"""Inputs that once escaped as tracebacks or hangs (issue 18): each is refused in one line naming the
file or option, with a non-zero exit and nothing left behind."""

import json
from pathlib import Path

import numpy as np
import pyogrio.raw
import shapely
from rasterio.transform import from_origin
from test_cli_data import assert_one_line_error, run
from test_mapping import threshold_model
from test_mapping import write_scene as write_rgb_scene
from test_sources import write_scene


def test_a_resolution_that_would_explode_a_sample_is_refused_before_allocating(bijie_dir, tmp_path):
    result = run("data", "build", bijie_dir, tmp_path / "out", "--resolution", "1e-6")
    assert_one_line_error(result, "ls_000.png", "--resolution", "GiB")
    assert not (tmp_path / "out").exists()


def test_a_resolution_that_would_explode_a_scene_is_refused_before_mapping(tmp_path):
    scene = write_rgb_scene(tmp_path / "scene.tif", "EPSG:32648", from_origin(500000, 3000000, 1, 1),
                            np.zeros((64, 64), np.uint8))
    model = threshold_model(tmp_path / "known.keras")
    result = run("map", scene, model, tmp_path / "out", "--resolution", "1e-6")
    assert_one_line_error(result, "--resolution", "GiB")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["known.keras", "scene.tif"]


def test_a_damaged_run_state_is_named(trained, tmp_path):
    _, _, run_folder = trained
    damaged = tmp_path / "run"
    damaged.mkdir()
    (damaged / "run.json").write_text((run_folder / "run.json").read_text()[:40])
    result = run("export", damaged, tmp_path / "export")
    assert_one_line_error(result, str(damaged / "run.json"), "not valid JSON")
    (damaged / "run.json").write_text(json.dumps({**json.loads((run_folder / "run.json").read_text()),
                                                  "threshold": "high"}))
    assert_one_line_error(run("export", damaged, tmp_path / "export"), "run.json", "threshold")
    assert not (tmp_path / "export").exists()


def test_export_under_a_regular_file_is_refused(trained, tmp_path):
    _, _, run_folder = trained
    (tmp_path / "file").write_text("not a folder")
    result = run("export", run_folder, tmp_path / "file" / "export")
    assert_one_line_error(result, "file", "choose a writable folder")
    assert (tmp_path / "file").read_text() == "not a folder"


def test_a_model_file_of_random_bytes_is_not_called_missing(tmp_path):
    scene = write_rgb_scene(tmp_path / "scene.tif", "EPSG:32648", from_origin(500000, 3000000, 1, 1),
                            np.zeros((32, 32), np.uint8))
    model = tmp_path / "model.keras"
    model.write_bytes(np.random.default_rng(0).bytes(4096))
    result = run("map", scene, model, tmp_path / "out")
    assert_one_line_error(result, "model.keras", "not a Keras model file")
    assert not (tmp_path / "out").exists()


def test_a_manifest_that_is_a_list_is_named(tmp_path):
    (tmp_path / "records").mkdir()
    (tmp_path / "records/manifest.json").write_text("[1, 2]")
    assert_one_line_error(run("data", "stats", tmp_path / "records"), "manifest.json", "got a list")


def _inventory(path: Path, polygons: list) -> Path:
    wkb = shapely.to_wkb(polygons) if polygons else np.array([], dtype=object)
    pyogrio.raw.write(path, wkb, [np.arange(len(polygons), dtype=np.int64)], ["id"], driver="GPKG",
                      geometry_type="Polygon", crs="EPSG:32648")
    return path


def test_labels_that_miss_the_scene_name_the_labels_file(tmp_path):
    write_scene(tmp_path / "scene.tif", np.full((3, 40, 40), 9, np.uint8))  # x 500000..500080
    far = _inventory(tmp_path / "far.gpkg", [shapely.box(600000, 2999950, 600010, 2999960)])
    result = run("data", "build", tmp_path / "scene.tif", tmp_path / "out", "--format", "geotiff", "--labels", far,
                 "--chip-size", "16")
    assert_one_line_error(result, "far.gpkg", "overlaps", "CRS")
    empty = _inventory(tmp_path / "empty.gpkg", [])
    result = run("data", "build", tmp_path / "scene.tif", tmp_path / "out", "--format", "geotiff", "--labels", empty,
                 "--chip-size", "16")
    assert_one_line_error(result, "empty.gpkg", "no features")
    assert not (tmp_path / "out").exists()
