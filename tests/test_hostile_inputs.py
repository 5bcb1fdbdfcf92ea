"""Inputs that once escaped as tracebacks or hangs (issue 18): each is refused in one line naming the
file or option, with a non-zero exit and nothing left behind."""

import json
from pathlib import Path

import numpy as np
import pyogrio.raw
import shapely
from helpers import assert_one_line_error, run
from rasterio.transform import from_origin

from lim_tf.testing import threshold_model, write_rgb_scene, write_scene


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


# Issue 29: outputs that would harm inputs, names that become paths, options that only act with another.

def _scene_and_model(folder: Path) -> tuple[Path, Path]:
    scene = write_rgb_scene(folder / "s.tif", "EPSG:32648", from_origin(500000, 3000000, 1, 1),
                            np.zeros((32, 32), np.uint8))
    return scene, threshold_model(folder / "known.keras")


def test_an_out_that_is_contains_or_lies_inside_an_input_is_refused_and_the_input_kept(tmp_path):
    scene, model = _scene_and_model(tmp_path)
    before = scene.read_bytes()
    for out, relation in ((scene, "is the input SCENE"), (tmp_path, "contains the input SCENE"),
                          (model / "out", "lies inside the input MODEL")):
        assert_one_line_error(run("map", scene, model, out, "--overwrite"), str(out), relation)
    scenes = tmp_path / "scenes"
    scenes.mkdir()
    (scenes / "a.tif").write_bytes(before)
    # outputs written into a folder of scenes would be mapped as scenes on the next run
    assert_one_line_error(run("map", scenes, model, scenes / "maps"), "lies inside the input SCENE")
    assert scene.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["known.keras", "s.tif", "scenes"]  # nothing hidden either
    assert [p.name for p in scenes.iterdir()] == ["a.tif"]


def test_a_file_in_place_of_an_output_folder_is_kept(tmp_path):
    scene, model = _scene_and_model(tmp_path)
    (tmp_path / "maps").write_text("notes")
    assert_one_line_error(run("map", scene, model, tmp_path / "maps", "--overwrite"), "is a file, not a folder")
    assert (tmp_path / "maps").read_text() == "notes"


def test_records_and_runs_are_kept_apart_from_their_outputs(trained, tmp_path):
    _, records, run_folder = trained
    assert_one_line_error(run("train", records, records / "run"), "RUN lies inside the input RECORDS")
    assert_one_line_error(run("data", "merge", records, records, tmp_path / "m"), "given twice")
    assert_one_line_error(run("data", "merge", records, tmp_path / "x", records), "OUT is the input RECORDS")
    assert_one_line_error(run("eval", run_folder, "--out", records, "--overwrite"), "--out is the input the records")
    assert_one_line_error(run("eval", run_folder, "--records", records, "--out", records.parent), "--out contains")
    assert_one_line_error(run("export", run_folder, run_folder), "OUT is the input RUN")
    assert not (records / "run").exists() and not (tmp_path / "m").exists()


def test_an_export_name_that_is_a_path_is_refused(trained, tmp_path):
    _, _, run_folder = trained
    for name in ("..", ".", ".hidden"):
        for kind in ("savedmodel", "onnx"):
            result = run("export", run_folder, tmp_path / "srv" / "inner", "--name", name, "--format", kind)
            assert_one_line_error(result, f"--name {name!r}", "not a plain model name")
    assert not (tmp_path / "srv").exists()


def test_options_that_act_only_with_another_are_refused(bijie_dir, trained, tmp_path):
    _, records, _ = trained
    out = tmp_path / "out"
    for args, option in ((["--review"], "--review"), (["--labels", "x.gpkg"], "--labels"),
                         (["--format", "geotiff", "--labelled-area", "a.gpkg"], "--labelled-area"),
                         (["--max-copies", "3"], "--max-copies"), (["--stride", "8"], "--stride"),
                         (["--include-dem", "--format", "folder"], "--include-dem")):
        assert_one_line_error(run("data", "build", bijie_dir, out, *args), option, "acts only with")
    for args, option in ((["--freeze-encoder-epochs", "2"], "--freeze-encoder-epochs"),
                         (["--keep-normalization"], "--keep-normalization"), (["--trust-model"], "--trust-model")):
        assert_one_line_error(run("train", records, out, *args), option, "acts only with --init-from")
    assert_one_line_error(run("train", records, out, "--time-budget", "45"), "give a unit, such as 45s or 45m")
    assert not out.exists()


def test_a_labelled_area_away_from_the_scene_is_named(tmp_path):
    write_scene(tmp_path / "scene.tif", np.full((3, 40, 40), 9, np.uint8))  # x 500000..500040, y ..3000000
    reviewed = tmp_path / "reviewed.gpkg"
    wkb = shapely.to_wkb([shapely.box(500005, 2999970, 500015, 2999980)])
    pyogrio.raw.write(reviewed, wkb, [np.array(["confirmed"], dtype=object)], ["review"], driver="GPKG",
                      geometry_type="Polygon", crs="EPSG:32648")
    far = _inventory(tmp_path / "far.gpkg", [shapely.box(550000, 2999950, 550100, 2999990)])  # 50 km east
    result = run("data", "build", tmp_path / "scene.tif", tmp_path / "out", "--format", "geotiff", "--labels",
                 reviewed, "--review", "--labelled-area", far, "--chip-size", "16")
    assert_one_line_error(result, "far.gpkg", "overlaps")
    assert not (tmp_path / "out").exists()


def test_cluster_and_region_options_are_checked_before_anything_is_made(tmp_path):
    from lim_tf.runtime.cluster import parse_cluster

    assert parse_cluster("localhost:2") == ("address", "tcp://localhost:2")
    assert parse_cluster("localhost:8786") == ("address", "tcp://localhost:8786")
    assert parse_cluster("local:2") == ("local", 2) and parse_cluster("LOCAL") is not None
    scene, model = _scene_and_model(tmp_path)
    out = tmp_path / "maps"
    assert_one_line_error(run("map", scene, scene, model, out, "--cluster", "local:x"), "--cluster 'local:x'")
    assert_one_line_error(run("map", scene, model, out, "--cluster", "local:100000"), "local cluster takes")
    assert_one_line_error(run("map", scene, scene, model, out, "--region-crs", "EPSG:999999"),
                          "--region-crs 'EPSG:999999'", "not a CRS")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["known.keras", "s.tif"]  # no .maps.work/ either


def test_a_damaged_sentinel2_band_is_named_and_nothing_is_left(tmp_path):
    from lim_tf.testing import write_sentinel2_product as write_product

    product, _ = write_product(tmp_path)
    band = next(product.rglob("*_B03_10m.tif"))
    band.write_bytes(band.read_bytes()[:400])  # a download cut short
    model = threshold_model(tmp_path / "m.keras")
    result = run("map", product, model, tmp_path / "map", "--sentinel2", "--resolution", "5")
    assert_one_line_error(result, band.name, "cannot read this band file")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["S2A_MSIL2A_TEST.SAFE", "m.keras"]


def test_sentinel2_into_an_existing_out_prepares_nothing(tmp_path):
    from lim_tf.testing import write_sentinel2_product as write_product

    product, _ = write_product(tmp_path)
    (tmp_path / "map").mkdir()
    result = run("map", product, threshold_model(tmp_path / "m.keras"), tmp_path / "map", "--sentinel2")
    assert_one_line_error(result, "map: already exists")
    assert not (tmp_path / "map_sentinel2_rgb.tif").exists()


def test_a_failed_onnx_export_leaves_no_empty_out(trained, tmp_path, monkeypatch):
    import errno

    import onnx

    _, _, run_folder = trained

    def full(*_, **__):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(onnx, "save", full)
    result = run("export", run_folder, tmp_path / "a" / "b", "--format", "onnx")
    assert_one_line_error(result, "No space left on device", "nothing was left half-written")
    assert not (tmp_path / "a").exists()


def test_a_full_disk_in_merge_names_out(trained, tmp_path, monkeypatch):
    import errno
    import shutil

    import lim_tf.data.merge as merge

    _, records, _ = trained
    copy = tmp_path / "copy"
    shutil.copytree(records, copy)
    monkeypatch.setattr(merge, "_link", lambda *_: (_ for _ in ()).throw(OSError(errno.ENOSPC, "No space")))
    result = run("data", "merge", records, copy, tmp_path / "merged")
    assert_one_line_error(result, str(tmp_path / "merged"), "could not be written")
    assert not (tmp_path / "merged").exists()


def test_a_missing_run_is_called_missing(tmp_path):
    scene, _ = _scene_and_model(tmp_path)
    assert_one_line_error(run("map", scene, tmp_path / "nowhere" / "bijie", tmp_path / "out"),
                          "no such file or folder")
    assert_one_line_error(run("export", "../bijie", tmp_path / "out"), "../bijie: no such file or folder")


def test_a_model_with_code_names_trust_model_in_train(trained, tmp_path):
    import keras

    _, records, _ = trained
    inputs = keras.Input((None, None, 3))
    outputs = keras.layers.Lambda(lambda x: x[..., :1] * 0.0 + 0.5)(inputs)
    keras.Model(inputs, outputs).save(tmp_path / "lambda.keras")
    result = run("train", records, tmp_path / "run", "--init-from", tmp_path / "lambda.keras", "--epochs", "1")
    assert_one_line_error(result, "lambda.keras", "--trust-model")
    assert "--trust-model" in run("train", "--help").output
