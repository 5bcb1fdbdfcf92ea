import numpy as np
import pytest

from lim_tf.windows import grid_offsets


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


@pytest.mark.parametrize("height, width, tile", [(10, 7, 32), (64, 96, 32), (100, 70, 32)])
def test_scene_tiles_partition_the_scene(height, width, tile):
    from lim_tf.windows import scene_tiles

    covered = np.zeros((height, width), int)
    for row, col, rows, cols in scene_tiles(height, width, tile, margin=16):
        assert row % tile == 0 and col % tile == 0 and rows <= tile and cols <= tile
        covered[row:row + rows, col:col + cols] += 1
    assert (covered == 1).all()
