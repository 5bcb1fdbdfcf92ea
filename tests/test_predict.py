"""mapping/predict.py: a predicted batch becomes per-tile rasters; a scene is planned and checked."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lim_tf.errors import OutputError
from lim_tf.geo.windows import Tile
from lim_tf.mapping import predict
from lim_tf.mapping.config import PredictConfig
from lim_tf.mapping.predict import MASK_NODATA, PROBABILITY_NODATA, check_disk, plan_batches, tile_results


def test_a_batch_of_two_members_becomes_mean_mask_and_agreement_on_each_core() -> None:
    # one 2 x 3 window whose core is its right 2 x 2; member probabilities written out by hand
    tile = Tile(row=0, col=1, rows=2, cols=2, top=0, left=0, height=2, width=3)
    members = np.array([[[0.2, 0.4, 0.9], [0.6, 0.1, 0.3]],
                        [[0.2, 0.8, 0.5], [0.6, 0.5, 0.4]]], np.float32)[:, None]  # (members, batch, h, w)
    valid = np.array([[True, True, True], [True, True, False]])
    spread = np.full((1, 2, 3), 0.05, np.float32)
    [result] = tile_results([tile], members, spread, [valid], threshold=0.5)
    assert np.allclose(result.probability, [[0.6, 0.7], [0.3, PROBABILITY_NODATA]])
    assert result.landslide.tolist() == [[1, 1], [0, MASK_NODATA]]
    assert result.agreement.tolist() == [[50, 100], [50, MASK_NODATA]]  # share of members at or over 0.5
    assert np.allclose(result.uncertainty, [[0.05, 0.05], [0.05, PROBABILITY_NODATA]])
    [alone] = tile_results([tile], members[:1], None, [valid], threshold=0.5)
    assert alone.agreement is None and alone.uncertainty is None  # one member: nothing to agree on


@pytest.mark.parametrize("shape, tile, margin, batch", [((100, 70), 40, 10, 3), ((33, 500), 64, 0, 2),
                                                        ((5, 5), 2048, 32, 2)])
def test_the_planned_tiles_cover_every_pixel_once_in_batches(shape, tile, margin, batch) -> None:
    batches = plan_batches(shape, PredictConfig(tile=tile, margin=margin, batch_size=batch))
    counts = np.zeros(shape, int)
    for part in batches:
        assert 1 <= len(part) <= batch
        for t in part:
            counts[t.row:t.row + t.rows, t.col:t.col + t.cols] += 1
            assert 0 <= t.top <= t.row and t.row + t.rows <= t.top + t.height <= shape[0]
    assert (counts == 1).all()
    assert all(len({(t.height, t.width) for t in part}) == 1 for part in batches)  # stackable windows


def test_a_scene_too_large_for_the_disk_is_refused_counting_every_raster(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    class Usage:
        free = 1000 * 1000 * 9  # 9 bytes per pixel of a 1000 x 1000 scene
    monkeypatch.setattr(predict.shutil, "disk_usage", lambda path: Usage)
    check_disk(tmp_path, (1000, 1000), members=1)  # probability + landslides: 5 bytes per pixel
    check_disk(tmp_path, (1000, 1000), members=5)  # + agreement: 6
    with pytest.raises(OutputError, match=r"needs 9.5 MiB of intermediate rasters but 8.6 MiB is free"):
        check_disk(tmp_path, (1000, 1000), members=5, uncertainty=True)  # + uncertainty: 10 > 9
