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
