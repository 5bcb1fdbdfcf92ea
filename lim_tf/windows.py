"""Window geometry for cutting a raster into chips or tiles."""

from __future__ import annotations


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


def scene_tiles(height: int, width: int, tile: int, margin: int) -> list[tuple[int, int, int, int]]:
    """Tiles (row, col, rows, cols) that partition a scene exactly, each read with `margin` pixels
    of context on every side and cropped back to its core when written.

    Cores start on a `tile` grid, so with tile and margin multiples of 32 every read window starts
    on the 32-pixel pooling grid of the whole scene; the last row and column of cores are cut at
    the scene edge. A scene smaller than one tile is one tile.
    """
    if tile <= 0 or margin < 0:
        raise ValueError(f"tile must be positive and margin non-negative, got {tile} and {margin}")
    return [(row, col, min(tile, height - row), min(tile, width - col))
            for row in range(0, height, tile) for col in range(0, width, tile)]
