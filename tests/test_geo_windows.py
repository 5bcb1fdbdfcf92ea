import numpy as np
import pytest

from lim_tf.geo.windows import grid_offsets


def test_raster_smaller_than_window_gives_one_window():
    assert grid_offsets(10, 32, 32) == [0]


def test_exact_multiple_has_no_overhang():
    assert grid_offsets(96, 32, 32) == [0, 32, 64]


def test_remainder_adds_one_overhanging_window():
    offsets = grid_offsets(100, 32, 32)
    assert offsets == [0, 32, 64, 96]
    assert offsets[-1] + 32 >= 100


def test_overlapping_stride_covers_everything():
    offsets = grid_offsets(100, 32, 16)
    covered = set()
    for start in offsets:
        covered |= set(range(start, min(start + 32, 100)))
    assert covered == set(range(100))


def test_bad_size_is_an_error():
    with pytest.raises(ValueError):
        grid_offsets(10, 0, 1)


@pytest.mark.parametrize("height, width, tile", [(10, 7, 32), (64, 96, 32), (100, 70, 32), (300, 200, 128)])
def test_scene_tiles_partition_the_scene(height, width, tile):
    from lim_tf.geo.windows import scene_tiles

    covered = np.zeros((height, width), int)
    tiles = scene_tiles(height, width, tile, margin=16)
    for t in tiles:
        assert t.row % 32 == 0 and t.col % 32 == 0 and t.rows <= tile and t.cols <= tile
        covered[t.row:t.row + t.rows, t.col:t.col + t.cols] += 1
        # The read window lies inside the scene and holds the core with up to 16 px around it.
        assert 0 <= t.top and t.top + t.height <= height and 0 <= t.left and t.left + t.width <= width
        assert t.top == max(t.row - 16, 0) and t.top + t.height == min(t.row + t.rows + 16, height)
        assert t.left == max(t.col - 16, 0) and t.left + t.width == min(t.col + t.cols + 16, width)
        window = np.arange(height * width).reshape(height, width)[t.top:t.top + t.height, t.left:t.left + t.width]
        np.testing.assert_array_equal(window[t.core], np.arange(height * width).reshape(height, width)[
            t.row:t.row + t.rows, t.col:t.col + t.cols])
    assert (covered == 1).all()
    # Cores are balanced: all but the last along each axis have one size.
    assert len({t.rows for t in tiles if t.row + t.rows < height}) <= 1
    assert len({t.cols for t in tiles if t.col + t.cols < width}) <= 1


def test_balanced_cores_give_one_padded_read_shape():
    from lim_tf.geo.windows import scene_tiles

    # 3000 px in tiles of at most 2048: two cores of 1504, not 2048 + 952.
    tiles = scene_tiles(3000, 3000, 2048, margin=32)
    assert [(t.row, t.rows) for t in tiles[::2]] == [(0, 1504), (1504, 1496)]
    assert {(-(-t.height // 32) * 32, -(-t.width // 32) * 32) for t in tiles} == {(1536, 1536)}
