"""Window geometry for cutting a raster into chips or tiles."""

from __future__ import annotations

from dataclasses import dataclass


def grid_offsets(length: int, size: int, stride: int) -> list[int]:
    """Start offsets of windows of `size` every `stride` pixels that together cover `length`.

    The first window starts at 0; windows continue until one reaches the end, so the last
    window may run past `length` (the caller pads it). A raster shorter than one window
    gives the single offset 0; an exact multiple gives no overhanging window.
    """
    if size <= 0 or stride <= 0:
        raise ValueError(f"window size and stride must be positive, got {size} and {stride}")
    offsets = [0]
    while offsets[-1] + size < length:
        offsets.append(offsets[-1] + stride)
    return offsets


@dataclass(frozen=True)
class Tile:
    """A core block of a scene, written from the prediction of a larger window read around it."""

    row: int  # the core
    col: int
    rows: int
    cols: int
    top: int  # the window read for context, inside the scene
    left: int
    height: int
    width: int

    @property
    def core(self) -> tuple[slice, slice]:
        """Where the core lies inside the read window."""
        row, col = self.row - self.top, self.col - self.left
        return slice(row, row + self.rows), slice(col, col + self.cols)


def scene_tiles(height: int, width: int, tile: int, margin: int, multiple: int = 32) -> list[Tile]:
    """Tiles that partition a scene exactly, each read with `margin` pixels of context on every
    side that has a neighbour, and cropped back to its core when written.

    Each axis is split into as few cores as keep them within `tile`, of equal size rounded up to
    `multiple` (the last one cut at the border): equal cores give read windows of one padded
    shape, whose compiled kernels are then reused. With margin a multiple of `multiple`, every
    read starts on the network's pooling grid of the whole scene. Reads stop at the scene's
    border: there is no context beyond it to gain, and the network then sees the border as a
    whole-scene prediction does. A scene smaller than one tile is one tile.
    """
    if tile <= 0 or margin < 0:
        raise ValueError(f"tile must be positive and margin non-negative, got {tile} and {margin}")

    def cores(length: int) -> list[tuple[int, int]]:
        count = -(-length // tile)
        size = -(-length // count)
        size = -(-size // multiple) * multiple
        return [(start, min(size, length - start)) for start in range(0, length, size)]

    tiles = []
    for row, rows in cores(height):
        for col, cols in cores(width):
            top, left = max(row - margin, 0), max(col - margin, 0)
            bottom, right = min(row + rows + margin, height), min(col + cols + margin, width)
            tiles.append(Tile(row, col, rows, cols, top, left, bottom - top, right - left))
    return tiles
