"""mapping/tiles.py: a tile's file round-trips its arrays and appears whole or not at all."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lim_tf.geo.windows import Tile
from lim_tf.mapping.predict import TileResult
from lim_tf.mapping.tiles import SceneJob, batch_done, load_result, save_result, tile_path

TILES = [Tile(0, 0, 4, 4, 0, 0, 6, 6), Tile(0, 4, 4, 3, 0, 2, 6, 5)]


def _job(folder: Path) -> SceneJob:
    return SceneJob("scene.tif", "run", None, False, False, (), None, False, None, 0.5, str(folder))


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
