"""`lim-tf data` through the CLI, including every bad input: one line, non-zero exit, no OUT."""

from pathlib import Path

import h5py
import numpy as np
import pytest
from helpers import assert_one_line_error, run
from PIL import Image

from lim_tf.testing import write_scene


def test_build_then_stats(bijie_dir, tmp_path):
    out = tmp_path / "out"
    result = run("data", "build", bijie_dir, out, "--chip-size", "16", "--test-landslide", "1", "--folds", "2")
    assert result.exit_code == 0, result.output
    assert "before augmentation" in result.output
    stats = run("data", "stats", out, "--json")
    assert '"imbalance_ratio"' in stats.output


def test_synth_writes_bijie_layout_and_a_georeferenced_scene(tmp_path):
    import rasterio

    result = run("data", "synth", tmp_path / "s", "--landslide-chips", "2", "--non-landslide-chips", "1",
                 "--scene-size", "128")
    assert result.exit_code == 0, result.output
    assert len(list((tmp_path / "s/bijie/landslide/mask").glob("*.png"))) == 2
    with rasterio.open(tmp_path / "s/scene/scene.tif") as src:
        assert src.crs.to_epsg() == 32648 and src.res == (0.8, 0.8) and src.count == 3  # Bijie's 0.8 m


def corrupt(bijie: Path) -> Path:
    path = sorted((bijie / "landslide/image").glob("*.png"))[0]
    path.write_bytes(b"not a png at all")
    return path


def truncated(bijie: Path) -> Path:
    path = sorted((bijie / "non-landslide/image").glob("*.png"))[0]
    path.write_bytes(path.read_bytes()[:80])
    return path


def wrong_size_mask(bijie: Path) -> Path:
    path = sorted((bijie / "landslide/mask").glob("*.png"))[1]
    Image.fromarray(np.zeros((5, 7), np.uint8)).save(path)
    return path


def stray_values(bijie: Path) -> Path:
    path = sorted((bijie / "landslide/mask").glob("*.png"))[2]
    mask = np.asarray(Image.open(path)).copy()
    mask[0, 0] = 17
    Image.fromarray(mask).save(path)
    return path


def missing_mask(bijie: Path) -> Path:
    path = sorted((bijie / "landslide/mask").glob("*.png"))[3]
    path.unlink()
    return bijie / "landslide/image" / path.name


@pytest.mark.parametrize("damage, message", [
    (corrupt, "cannot decode image"), (truncated, "cannot decode image"),
    (wrong_size_mask, "masks must match their image"), (stray_values, "besides the declared"),
    (missing_mask, "has no mask"),
])
def test_bad_bijie_inputs_leave_no_output(bijie_dir, tmp_path, damage, message):
    bad = damage(bijie_dir)
    out = tmp_path / "out"
    assert_one_line_error(run("data", "build", bijie_dir, out, "--chip-size", "16", "--test-landslide", "1",
                              "--folds", "2"), bad.name, message)
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


def test_failed_rebuild_keeps_the_previous_output(bijie_dir, tmp_path):
    out = tmp_path / "out"
    args = ["data", "build", bijie_dir, out, "--chip-size", "16", "--test-landslide", "1", "--folds", "2"]
    assert run(*args).exit_code == 0
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    corrupt(bijie_dir)
    assert_one_line_error(run(*args, "--overwrite"), "cannot decode")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_existing_output_is_refused_without_overwrite(bijie_dir, tmp_path):
    (tmp_path / "out").mkdir()
    assert_one_line_error(run("data", "build", bijie_dir, tmp_path / "out"), "already exists", "--overwrite")


def test_empty_and_misnamed_folders(tmp_path):
    (tmp_path / "empty/landslide/image").mkdir(parents=True)
    (tmp_path / "empty/non-landslide/image").mkdir(parents=True)
    assert_one_line_error(run("data", "build", tmp_path / "empty", tmp_path / "o"), "no images")
    (tmp_path / "wrong/Landslides").mkdir(parents=True)
    assert_one_line_error(run("data", "build", tmp_path / "wrong", tmp_path / "o"), "landslide/image")
    assert_one_line_error(run("data", "build", tmp_path / "nowhere", tmp_path / "o"), "no such file")


def test_hdf5_without_expected_key(tmp_path):
    (tmp_path / "l4s" / "img").mkdir(parents=True)
    (tmp_path / "l4s" / "mask").mkdir()
    with h5py.File(tmp_path / "l4s/img/image_1.h5", "w") as f:
        f["data"] = np.zeros((8, 8, 14))
    with h5py.File(tmp_path / "l4s/mask/mask_1.h5", "w") as f:
        f["mask"] = np.zeros((8, 8), np.uint8)
    assert_one_line_error(run("data", "build", tmp_path / "l4s", tmp_path / "o", "--format", "l4s"), "image_1.h5",
                          "'img'")


def test_scene_and_labels_on_different_grids(tmp_path):
    write_scene(tmp_path / "scene.tif", np.ones((3, 32, 32), np.uint8))
    write_scene(tmp_path / "labels.tif", np.zeros((1, 32, 32), np.uint8), origin=(500100, 3000000))
    assert_one_line_error(run("data", "build", tmp_path / "scene.tif", tmp_path / "o", "--format", "geotiff",
                              "--labels", tmp_path / "labels.tif"), "labels.tif", "not on the grid")
    assert not (tmp_path / "o").exists()


def test_bad_option_values(bijie_dir, tmp_path):
    assert_one_line_error(run("data", "build", bijie_dir, tmp_path / "o", "--mask-values", "255=rock"), "255=rock")
    assert_one_line_error(run("data", "build", bijie_dir, tmp_path / "o", "--augment", "rotate"), "rotate")
    assert_one_line_error(run("data", "build", bijie_dir, tmp_path / "o", "--test-landslide", "50"), "only 6 exist")


@pytest.mark.shared
def test_real_sentinel2_builds_through_the_cli(tmp_path):
    from conftest import shared_path

    from lim_tf.data.manifest import load_manifest

    root = shared_path("sentinel2_chittagong")
    result = run("data", "build", root, tmp_path / "s2", "--format", "geotiff", "--nodata", "0", "--bands", "1,2,3",
                 "--mask-values", "0=ignore,1=background,2=landslide", "--folds", "2", "--test-landslide", "1")
    assert result.exit_code == 0, result.output
    manifest = load_manifest(tmp_path / "s2")
    assert manifest.band_names == ("band1", "band2", "band3")
    assert manifest.image_dtype == "float32"  # the float64 DN are stored as float32
    assert manifest.pixels["train_before_augmentation"]["landslide"] > 0


@pytest.mark.shared
def test_real_l4s_builds_through_the_cli(tmp_path):
    from conftest import shared_path

    from lim_tf.data.manifest import load_manifest

    result = run("data", "build", shared_path("landslide4sense"), tmp_path / "l4s", "--format", "l4s",
                 "--bands", "B4,B3,B2,slope,dem", "--chip-size", "128", "--folds", "2", "--test-landslide", "1")
    assert result.exit_code == 0, result.output
    manifest = load_manifest(tmp_path / "l4s")
    assert manifest.band_names == ("B4", "B3", "B2", "slope", "dem") and manifest.chip_size is None
    assert manifest.resolution == 10.0  # Landslide4Sense's pixel size, kept: native chips


def test_verify_finds_missing_and_changed_shards(bijie_dir, tmp_path):
    out = tmp_path / "r"
    assert run("data", "build", bijie_dir, out, "--test-landslide", "1", "--folds", "2").exit_code == 0
    assert "all whole" in run("data", "verify", out).output
    shard = sorted(out.glob("fold1-*.tfrecord.gz"))[0]
    data = bytearray(shard.read_bytes())
    data[len(data) // 2] ^= 0xFF
    shard.write_bytes(bytes(data))
    assert_one_line_error(run("data", "verify", out), shard.name, "checksum")
    shard.unlink()
    assert_one_line_error(run("data", "verify", out), shard.name, "missing")
