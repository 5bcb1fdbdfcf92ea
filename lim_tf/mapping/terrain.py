"""Slope from a DEM on any grid, sampled under each inventory polygon."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
import shapely
from rasterio.features import geometry_mask
from rasterio.warp import Resampling, reproject, transform_bounds
from rasterio.windows import from_bounds

from lim_tf.errors import InputError
from lim_tf.geo.grid import pixel_size_metres


def slope_degrees(elevation: np.ndarray, dx: float, dy: float) -> np.ndarray:
    """Slope in degrees from elevations (m) on a grid with pixel sizes dx, dy in metres."""
    grad_y, grad_x = np.gradient(elevation.astype(np.float64), dy, dx)
    return np.degrees(np.arctan(np.hypot(grad_x, grad_y)))


class SlopeSampler:
    """Mean slope under polygons, from a DEM reprojected onto the scene's grid around each polygon."""

    def __init__(self, dem_path: Path, scene: rasterio.DatasetReader) -> None:
        self.dem = self._open(dem_path)
        left, bottom, right, top = transform_bounds(self.dem.crs, scene.crs, *self.dem.bounds)
        s_left, s_bottom, s_right, s_top = scene.bounds
        if right <= s_left or left >= s_right or top <= s_bottom or bottom >= s_top:
            self.dem.close()
            raise InputError(f"{dem_path}: the DEM does not overlap the scene; give a DEM that covers it")
        self.scene = scene

    @staticmethod
    def _open(dem_path: Path) -> rasterio.DatasetReader:
        try:
            with rasterio.Env():
                return rasterio.open(dem_path)
        except rasterio.errors.RasterioIOError as error:
            raise InputError(f"{dem_path}: cannot open the DEM ({str(error).splitlines()[0][:120]})") from error

    @classmethod
    def check(cls, dem_path: Path) -> None:
        """A DEM that opens, or the one-line error naming it."""
        cls._open(dem_path).close()

    def mean_slope(self, polygon: shapely.Polygon) -> float:
        """Mean slope (degrees) of the pixels inside the polygon."""
        window = from_bounds(*polygon.bounds, transform=self.scene.transform)
        window = window.round_offsets().round_lengths()
        window = rasterio.windows.Window(window.col_off - 2, window.row_off - 2, window.width + 4, window.height + 4)
        transform = self.scene.window_transform(window)
        elevation = np.full((int(window.height), int(window.width)), np.nan, np.float32)
        reproject(rasterio.band(self.dem, 1), elevation, dst_transform=transform, dst_crs=self.scene.crs,
                  dst_nodata=np.nan, resampling=Resampling.bilinear)
        centre = polygon.centroid
        dx, dy = pixel_size_metres(transform, self.scene.crs, centre.x, centre.y)
        slope = slope_degrees(elevation, dx, dy)
        inside = ~geometry_mask([polygon], elevation.shape, transform) & np.isfinite(slope)
        return float(slope[inside].mean()) if inside.any() else float("nan")

    def close(self) -> None:
        self.dem.close()
