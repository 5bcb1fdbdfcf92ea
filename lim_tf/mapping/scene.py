"""Opening a scene for mapping: raster checks, band selection, nodata and padded window reads."""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio.enums import Resampling

from lim_tf.data.images import band_indexes, valid_pixels
from lim_tf.errors import InputError
from lim_tf.geo.grid import ground_resolution, resampled_grid, warp

log = logging.getLogger(__name__)
MAX_SIDE = 2**31 - 1  # GDAL's limit on a raster's width or height


@dataclass(frozen=True)
class SceneSpec:
    """A scene to map as it entered: its path and how to read it. Built once where the scene enters
    (SceneSpec.of) and handed to every step that opens it, here or on a Dask worker."""

    path: str  # as given: GDAL paths (/vsicurl/, /vsis3/) keep their double slashes
    bands: tuple[str, ...] = ()  # 1-based indexes or band names, in the model's order
    nodata: float | None = None  # overrides the file's own
    allow_no_crs: bool = False
    resolution: float | None = None  # metres per pixel the model maps at (None: the scene's own)
    normalize: str = "model"  # "scene": its own band statistics brought to the training imagery's

    @classmethod
    def of(cls, path: str | Path, config: Any, resolution: float | None) -> "SceneSpec":
        """The spec of `path` under a MapConfig, at the model's `resolution`."""
        return cls(str(path), config.bands, config.nodata, config.allow_no_crs, resolution, config.normalize)


@dataclass
class Scene:
    """An open raster with the bands the model needs and its nodata rule. `dataset` is the grid
    the model predicts on: the file itself, or a virtual raster of it at the model's resolution."""

    dataset: rasterio.DatasetReader
    indexes: list[int]  # 1-based band indexes, in the model's order
    nodata: float | None
    source: rasterio.DatasetReader | None = None  # the file, when `dataset` resamples it
    # Per band (gain, offset) applied to valid pixels as they are read: the scene's own light brought
    # to the training imagery's (map --normalize scene); None reads the pixels as they are.
    adjust: tuple[tuple[float, ...], tuple[float, ...]] | None = None

    @property
    def resampled(self) -> bool:
        return self.source is not None

    def close(self) -> None:
        self.dataset.close()
        if self.source is not None:
            self.source.close()

    @property
    def shape(self) -> tuple[int, int]:
        return self.dataset.height, self.dataset.width

    def read(self, row: int, col: int, rows: int, cols: int) -> tuple[np.ndarray, np.ndarray]:
        """(image float32 (rows, cols, bands), valid bool) for a window that may run past the edges.

        Outside the scene and at nodata pixels, valid is False and the image is 0."""
        height, width = self.shape
        image = np.zeros((rows, cols, len(self.indexes)), np.float32)
        valid = np.zeros((rows, cols), bool)
        top, left = max(row, 0), max(col, 0)
        bottom, right = min(row + rows, height), min(col + cols, width)
        if bottom > top and right > left:
            window = rasterio.windows.Window(left, top, right - left, bottom - top)
            try:
                data = np.moveaxis(self.dataset.read(self.indexes, window=window), 0, -1).astype(np.float32)
            except rasterio.errors.RasterioError as error:
                raise InputError(f"{self.dataset.name}: cannot read rows {top}..{bottom}, columns {left}..{right} "
                                 f"({str(error).splitlines()[0][:100]}); the file may be damaged") from error
            inside = (slice(top - row, bottom - row), slice(left - col, right - col))
            ok = valid_pixels(data, self.nodata)
            if self.adjust is not None:
                data = data * np.asarray(self.adjust[0], np.float32) + np.asarray(self.adjust[1], np.float32)
            image[inside] = np.where(ok[..., None], data, 0)
            valid[inside] = ok
        return image, valid


def open_scene(spec: SceneSpec, model_bands: int) -> Scene:
    """Open and check a scene: it must be a raster with a CRS (unless allowed) and give the model's
    bands. With a resolution (metres) it is read on a grid of that pixel size (bilinear). The path is
    passed to GDAL as given, so /vsicurl/http://... and /vsis3/... keep their double slashes. (The
    scene's light is adjusted by the caller, who knows the model: calibration.scene_radiometry.)"""
    path, bands, nodata, allow_no_crs, resolution = spec.path, spec.bands, spec.nodata, spec.allow_no_crs, \
        spec.resolution
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)  # reported below, our way
            dataset = rasterio.open(str(path))
    except rasterio.errors.RasterioIOError as error:
        raise InputError(f"{path}: not a raster GDAL can read ({str(error)[:120]})") from error
    if dataset.crs is None:
        if not allow_no_crs:
            dataset.close()
            raise InputError(f"{path}: the scene has no CRS, so outputs could not be placed on a map; "
                             "assign one (gdal_edit.py -a_srs) or pass --allow-no-crs")
        log.warning("%s has no CRS: outputs carry pixel coordinates only and areas are in pixels", path)
    elif not (dataset.crs.is_projected or dataset.crs.is_geographic):
        crs = dataset.crs.to_string()[:80]
        dataset.close()
        raise InputError(f"{path}: its CRS ({crs}) is neither projected nor geographic, so pixel sizes and areas "
                         "cannot be measured; reproject it (gdalwarp -t_srs EPSG:...)")
    names = tuple(d or f"band{i + 1}" for i, d in enumerate(dataset.descriptions))
    try:
        indexes = [i + 1 for i in band_indexes(names, bands, str(path))]
    except InputError:
        dataset.close()
        raise
    if len(indexes) != model_bands:
        dataset.close()
        raise InputError(f"{path}: {len(indexes)} band(s) selected but the model takes {model_bands}; "
                         "choose them with --bands (e.g. --bands 1,2,3)")
    nodata = nodata if nodata is not None else dataset.nodata
    grid = resampled_grid(dataset, resolution)
    if grid is not None and max(grid.width, grid.height) > MAX_SIDE:  # before any tile is planned
        dataset.close()
        raise InputError(f"{path}: at --resolution {resolution:g} m the scene would be {grid.width} x {grid.height} "
                         f"pixels, over GeoTIFF's {MAX_SIDE} per side; choose a coarser --resolution (the scene's own "
                         f"is {ground_resolution(dataset):.3g} m)")
    if grid is None:
        return Scene(dataset, indexes, nodata)
    log.info("%s: %.2f m pixels, mapped at the model's %.2f m", path, ground_resolution(dataset), resolution)
    return Scene(warp(dataset, grid, Resampling.bilinear, nodata), indexes, nodata, dataset)
