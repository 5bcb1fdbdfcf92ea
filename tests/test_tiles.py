"""mapping/tiles.py: a tile's file round-trips its arrays and appears whole or not at all."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from rasterio.transform import from_origin

from lim_tf.geo.windows import Tile
from lim_tf.mapping.predict import TileResult
from lim_tf.mapping.scene import SceneSpec
from lim_tf.mapping.tiles import SceneJob, batch_done, load_result, save_result, tile_path

TILES = [Tile(0, 0, 4, 4, 0, 0, 6, 6), Tile(0, 4, 4, 3, 0, 2, 6, 5)]


def _job(folder: Path) -> SceneJob:
    return SceneJob(SceneSpec("scene.tif"), "run", None, 1, False, 0.5, str(folder))


@pytest.mark.parametrize("optional", [False, True])
def test_a_saved_tile_loads_back_equal(tmp_path: Path, optional: bool) -> None:
    rng = np.random.default_rng(0)
    tile = TILES[1]
    probability = rng.random((4, 3), dtype=np.float32)
    extra = rng.random((4, 3), dtype=np.float32) if optional else None
    agreement = (np.arange(12, dtype=np.uint8) * 9).reshape(4, 3) if optional else None
    result = TileResult(tile, probability, (probability >= 0.5).astype(np.uint8), agreement, extra)
    save_result(tmp_path, result)
    back = load_result(tmp_path, tile)
    assert back.tile == tile
    for name in ("probability", "landslide", "agreement", "uncertainty"):
        expected, got = getattr(result, name), getattr(back, name)
        assert (got is None) if expected is None else (got.dtype == expected.dtype and np.array_equal(got, expected))
    assert [p.name for p in tmp_path.iterdir()] == ["r0000000_c0000004.npz"]  # no temporary left


def test_a_batch_is_done_only_when_every_tile_has_its_file(tmp_path: Path) -> None:
    job = _job(tmp_path)
    assert not batch_done(job, TILES)
    tile_path(tmp_path, TILES[0]).write_bytes(b"")
    assert not batch_done(job, TILES)
    tile_path(tmp_path, TILES[1]).write_bytes(b"")
    assert batch_done(job, TILES)
    # a writer killed before its rename leaves only a dot-file, which does not count
    assert tile_path(tmp_path, Tile(12, 0, 4, 4, 8, 0, 8, 4)).name == "r0000012_c0000000.npz"


def test_a_task_run_again_skips_the_batches_its_dead_worker_finished(tmp_path: Path) -> None:
    from lim_tf.mapping.tiles import run_batches
    from lim_tf.testing import squares, threshold_model
    from lim_tf.testing import write_rgb_scene as write_scene

    band = squares(40, 40, [(5, 5, 10)])
    scene = write_scene(tmp_path / "scene.tif", "EPSG:32648", from_origin(500_000, 3_000_000, 2, 2), band)
    job = SceneJob(SceneSpec(str(scene)), str(threshold_model(tmp_path / "m.keras")), None, 1, False, 0.5,
                   str(tmp_path / "tiles"))
    (tmp_path / "tiles").mkdir()
    halves = [[Tile(0, 0, 20, 40, 0, 0, 20, 40)], [Tile(20, 0, 20, 40, 20, 0, 20, 40)]]
    assert run_batches(job, halves[:1]) == 800
    first = tile_path(job.folder, halves[0][0]).stat().st_mtime_ns
    assert run_batches(job, halves) == 800  # only the second half was left
    assert tile_path(job.folder, halves[0][0]).stat().st_mtime_ns == first
    assert run_batches(job, halves) == 0
    mapped = np.zeros((40, 40), np.uint8)
    for [tile] in halves:
        mapped[tile.row:tile.row + tile.rows] = load_result(job.folder, tile).landslide
    assert np.array_equal(mapped, (band >= 128).astype(np.uint8))


def test_a_worker_asked_for_onnx_runtimes_saves_the_tensorflow_tiles(tmp_path: Path) -> None:
    import dataclasses

    from lim_tf.mapping.tiles import run_batches
    from lim_tf.models import ModelConfig, build_model
    from lim_tf.testing import write_rgb_scene as write_scene

    band = np.random.default_rng(3).integers(0, 256, (40, 40)).astype(np.uint8)
    scene = write_scene(tmp_path / "scene.tif", "EPSG:32648", from_origin(500_000, 3_000_000, 2, 2), band)
    import keras

    keras.utils.set_random_seed(1)  # a fixed net, normalised as trained ones are: int8's error is then stable
    build_model(ModelConfig(name="unet", width=1 / 16, mean=(100.0,) * 3, std=(40.0,) * 3)).save(tmp_path / "unet.keras")
    batch = [Tile(0, 0, 40, 40, 0, 0, 40, 40)]
    tiles = {}
    for runtime in ("tensorflow", "onnx", "onnx-int8"):
        job = dataclasses.replace(_job(tmp_path / runtime), scene=SceneSpec(str(scene)), model=str(tmp_path / "unet.keras"),
                                  runtime=runtime)
        (tmp_path / runtime).mkdir()
        assert run_batches(job, [batch]) == 1600
        tiles[runtime] = load_result(job.folder, batch[0]).probability
    np.testing.assert_allclose(tiles["onnx"], tiles["tensorflow"], atol=1e-4)
    from helpers import assert_near_float32

    assert_near_float32(tiles["onnx-int8"], tiles["tensorflow"])  # calibrated on the job's scene
    from lim_tf.mapping.tiles import _load
    from lim_tf.trained.onnx_model import OnnxEnsemble

    assert isinstance(_load(str(tmp_path / "unet.keras"), None, False, False, False, "onnx", None), OnnxEnsemble)
