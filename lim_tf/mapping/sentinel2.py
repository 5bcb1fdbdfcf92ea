"""Sentinel-2 Level-2A as the paper used it: B04, B03, B02 stacked as R, G, B, resampled to a target
resolution and stretched to the radiometry of the training imagery."""

from __future__ import annotations

import logging
import re
import sys
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from rasterio._err import CPLE_BaseError
from rasterio.enums import Resampling
from rasterio.vrt import WarpedVRT
from tqdm.auto import tqdm

from lim_tf.data.manifest import BandStatistics
from lim_tf.errors import InputError
from lim_tf.geo.grid import resampled_grid
from lim_tf.runtime.process import native_stderr_silenced

log = logging.getLogger(__name__)
RGB_BANDS = ("B04", "B03", "B02")  # red, green, blue: the order of RGB training chips
ROWS_PER_BLOCK = 1024


def find_bands(path: Path, bands: tuple[str, ...] = RGB_BANDS) -> list[Path]:
    """Band files in order: from a .SAFE folder (10 m IMG_DATA), a folder of band files, or a list."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: no such Sentinel-2 product or folder")
    candidates = sorted(p for p in path.rglob("*") if p.suffix.lower() in (".jp2", ".tif", ".tiff"))
    found = []
    for band in bands:
        pattern = re.compile(rf"(^|_){band}(_10m)?\.(jp2|tif|tiff)$", re.IGNORECASE)
        matches = [p for p in candidates if pattern.search(p.name)]
        preferred = [p for p in matches if "R10m" in p.parts] or matches
        if not preferred:
            raise InputError(f"{path}: no {band} band file (e.g. T..._{band}_10m.jp2); give a Level-2A .SAFE "
                             "folder or a folder with the band files")
        found.append(preferred[0])
    return found


def prepare_sentinel2(band_files: list[Path], out: Path, resolution: float | None,
                      band_statistics: Sequence[BandStatistics] | None, boa_offset: float = -1000.0,
                      quantification: float = 10000.0, progress: bool = False) -> Path:
    """Write a stacked uint8 GeoTIFF the model can map.

    Digital numbers become reflectance as (DN + boa_offset) / quantification (processing baseline
    04.00 and later; set boa_offset=0 for older products). Each band is then stretched linearly
    so its mean and standard deviation over the scene match the training set's (from the records'
    manifest); without training statistics, the 2nd..98th percentiles map to 0..255.
    """
    sources: list = []
    try:
        sources += [_open_band(p) for p in band_files]
        first = sources[0]
        crs, transform = first.crs, first.transform
        grid = resampled_grid(first, resolution)  # metres, in projected and geographic CRSs alike
        target, width, height = (grid.transform, grid.width, grid.height) if grid else (transform, first.width,
                                                                                         first.height)
        vrts = [_warped(s, path, crs, target, width, height) for s, path in zip(sources, band_files)]
        gains, offsets = _stretch(vrts, band_statistics, boa_offset, quantification, band_files)
        profile = dict(driver="GTiff", width=width, height=height, count=len(vrts), dtype="uint8", crs=crs,
                       transform=target, nodata=0, tiled=True, compress="deflate", BIGTIFF="IF_SAFER")
        with rasterio.open(out, "w", **profile) as dst:
            for top in tqdm(range(0, height, ROWS_PER_BLOCK), desc="preparing Sentinel-2", unit="strip",
                            disable=not progress):
                window = rasterio.windows.Window(0, top, width, min(ROWS_PER_BLOCK, height - top))
                for index, vrt in enumerate(vrts):
                    raw = _read(vrt, band_files[index], window).astype(np.float32)
                    reflectance = (raw + boa_offset) / quantification
                    scaled = np.clip(np.rint(reflectance * gains[index] + offsets[index]), 1, 255)
                    dst.write(np.where(raw == 0, 0, scaled).astype(np.uint8), index + 1, window=window)
            dst.descriptions = ("red", "green", "blue")[: len(vrts)]
    finally:
        for source in sources:
            source.close()
    return out


# What GDAL raises for a damaged file: rasterio's errors, GDAL's own (a CRS it cannot transform), and
# undecodable bytes where a name or a message should be.
DAMAGED = (rasterio.errors.RasterioError, CPLE_BaseError, UnicodeDecodeError)


@contextmanager
def _gdal_quiet() -> Iterator[None]:
    """GDAL's own lines about a damaged band (OpenJPEG's decode errors; a message rasterio's log
    handler cannot decode, which Cython prints through sys.excepthook and then reports as "Exception
    ignored") stay out of the terminal: the failure itself is raised, and refused in one line naming
    the band file. Both hooks are restored on the way out."""
    unraisable_hook, except_hook = sys.unraisablehook, sys.excepthook

    def drop_unraisable(unraisable: Any) -> None:
        if not isinstance(unraisable.exc_value, UnicodeDecodeError):
            unraisable_hook(unraisable)

    def drop_printed(kind: type[BaseException], value: BaseException, traceback: Any) -> None:
        if not isinstance(value, UnicodeDecodeError):
            except_hook(kind, value, traceback)

    sys.unraisablehook, sys.excepthook = drop_unraisable, drop_printed
    try:
        with rasterio.Env(), native_stderr_silenced():
            yield
    finally:
        sys.unraisablehook, sys.excepthook = unraisable_hook, except_hook


def _damaged(path: Path, error: BaseException) -> InputError:
    text = str(error).splitlines()[0][:120] if str(error) else type(error).__name__
    return InputError(f"{path}: cannot read this band file ({text}); download the product again")


def _open_band(path: Path) -> Any:
    """A band file, or a one-line error naming it (a damaged or partly downloaded .jp2)."""
    try:
        # libgeotiff prints a damaged GeoJP2 box's keys itself ("Key 1024 of unknown type"); refused below
        with _gdal_quiet(), warnings.catch_warnings():
            warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
            band = rasterio.open(path)
    except DAMAGED as error:
        raise _damaged(path, error) from error
    if band.crs is None or band.count != 1:  # a Sentinel-2 band is one georeferenced band
        band.close()
        raise InputError(f"{path}: cannot read this band file (no CRS or {band.count} bands, where a Sentinel-2 band "
                         "file has one georeferenced band); download the product again")
    if not (band.crs.is_projected or band.crs.is_geographic):  # a damaged key leaves a local frame
        band.close()
        raise InputError(f"{path}: cannot read this band file (its CRS is a local frame, not a map projection: "
                         "Sentinel-2 bands are in UTM); download the product again")
    return band


def _warped(source: Any, path: Path, crs: Any, transform: Any, width: int, height: int) -> WarpedVRT:
    """A band on the first band's grid, or a one-line error naming it (a CRS GDAL cannot transform)."""
    try:
        with _gdal_quiet():
            return WarpedVRT(source, crs=crs, transform=transform, width=width, height=height,
                             resampling=Resampling.bilinear, nodata=0)
    except DAMAGED as error:
        raise _damaged(path, error) from error


def _read(vrt: Any, path: Path, window: Any) -> np.ndarray:
    """A window of a band, or a one-line error naming the band file (damage may show only when read)."""
    try:
        with _gdal_quiet():
            return vrt.read(1, window=window)
    except DAMAGED as error:
        raise _damaged(path, error) from error


def _stretch(vrts, statistics, boa_offset: float, quantification: float,
             band_files: list[Path]) -> tuple[np.ndarray, np.ndarray]:
    """Per-band gain and offset from full-resolution strips spread over the scene (a decimated read
    would average pixels and understate their spread)."""
    gains, offsets = [], []
    strip = min(64, vrts[0].height)
    tops = np.unique(np.linspace(0, vrts[0].height - strip, min(16, -(-vrts[0].height // strip))).astype(int))
    for index, vrt in enumerate(vrts):
        sample = np.concatenate([_read(vrt, band_files[index], rasterio.windows.Window(0, int(top), vrt.width, strip))
                                 for top in tops]).astype(np.float32)
        values = (sample[sample > 0] + boa_offset) / quantification
        if not len(values):
            raise InputError(f"{vrt.name}: the band holds only nodata")
        if statistics:
            mean, std = statistics[index].mean, statistics[index].std
            gain = std / max(float(values.std()), 1e-6)
            gains.append(gain)
            offsets.append(mean - gain * float(values.mean()))
        else:
            low, high = np.percentile(values, [2, 98])
            gains.append(255 / max(high - low, 1e-6))
            offsets.append(-low * gains[-1])
    return np.asarray(gains), np.asarray(offsets)
