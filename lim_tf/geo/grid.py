"""Pixel sizes in metres and the resampled grid of a raster at a stated ground resolution."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import rasterio
from pyproj import Geod
from rasterio.enums import Resampling
from rasterio.vrt import WarpedVRT

GEOD = Geod(ellps="WGS84")
TOLERANCE = 0.01  # pixel sizes within 1 % are the same resolution: no resampling


def pixel_size_metres(transform: Any, crs: Any, x: float, y: float) -> tuple[float, float]:
    """Pixel width and height in metres at (x, y): geodesic for geographic CRSs."""
    if crs is not None and crs.is_geographic:
        _, _, dx = GEOD.inv(x, y, x + transform.a, y)
        _, _, dy = GEOD.inv(x, y, x, y + transform.e)
        return dx, dy
    factor = crs.linear_units_factor[1] if crs is not None else 1.0
    return abs(transform.a) * factor, abs(transform.e) * factor


def ground_resolution(dataset: Any) -> float | None:
    """Mean pixel size in metres at the raster's centre; None without a CRS."""
    if dataset.crs is None:
        return None
    x, y = dataset.transform * (dataset.width / 2, dataset.height / 2)
    dx, dy = pixel_size_metres(dataset.transform, dataset.crs, x, y)
    return (dx + dy) / 2


@dataclass(frozen=True)
class Grid:
    """A raster grid: transform, width and height, in the source's CRS."""

    transform: Any
    width: int
    height: int


def resampled_grid(dataset: Any, resolution: float | None, current: float | None = None) -> Grid | None:
    """The grid covering `dataset` with `resolution`-metre pixels; None when it already has them
    (within 1 %), when no resolution is asked for, or when the pixel size is unknown (no CRS and
    no stated `current` pixel size)."""
    current = current or ground_resolution(dataset)
    if resolution is None or current is None or abs(current / resolution - 1) <= TOLERANCE:
        return None
    scale = resolution / current
    transform = dataset.transform * rasterio.Affine.scale(scale)
    width = max(1, round(dataset.width / scale))
    height = max(1, round(dataset.height / scale))
    return Grid(transform, width, height)


def warp(dataset: Any, grid: Grid | None, resampling: Resampling, nodata: float | None = None) -> Any:
    """`dataset` itself, or a virtual raster of it on `grid` (read lazily, window by window).
    Nodata pixels (the file's, or `nodata`) stay out of the interpolation."""
    if grid is None:
        return dataset
    nodata = dataset.nodata if nodata is None else nodata
    extra = {} if nodata is None else {"src_nodata": nodata, "nodata": nodata}
    return WarpedVRT(dataset, crs=dataset.crs, transform=grid.transform, width=grid.width, height=grid.height,
                     resampling=resampling, **extra)
