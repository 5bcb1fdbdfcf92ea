"""Cloud-Optimized GeoTIFFs of the per-pixel outputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
import rasterio.shutil

from lim_tf.mapping.predict import MASK_NODATA, PROBABILITY_NODATA
from lim_tf.mapping.styles import LANDSLIDE_NODATA, style_landslide_band


def write_cog(source: Path, target: Path, resampling: str, scale_to_uint8: bool = False) -> None:
    """Copy a tiled GeoTIFF to a Cloud-Optimized GeoTIFF with overviews (optionally as uint8 0..254)."""
    if scale_to_uint8:
        source = _recoded(source, "_uint8", MASK_NODATA, lambda data, nodata: np.where(
            data == PROBABILITY_NODATA, MASK_NODATA, np.round(data * 254)), scales=(1 / 254,))  # GDAL, QGIS unscale
    _copy(source, target, resampling)


def write_landslide_cog(source: Path, target: Path) -> None:
    """landslides.tif from a raw landslide raster (1 landslide, 0 background, 255 outside the scene):
    1 on no data elsewhere, so it draws transparent around the landslides in any viewer, styled or
    not (a GeoTIFF colour table cannot hold transparency). Where the scene was mapped is in
    probability.tif."""
    recoded = _recoded(source, "_cog", LANDSLIDE_NODATA, lambda data, _: (data == 1))
    with rasterio.open(recoded, "r+") as dataset:
        style_landslide_band(dataset)
    _copy(recoded, target, "NEAREST")


def _recoded(source: Path, suffix: str, nodata: int, recode, scales: tuple[float, ...] | None = None) -> Path:
    """`source` as uint8 values recode(data, nodata), block by block, beside it."""
    target = source.with_name(source.stem + suffix + ".tif")
    with rasterio.open(source) as src:
        with rasterio.open(target, "w", **(src.profile | {"dtype": "uint8", "nodata": nodata})) as dst:
            for _, window in src.block_windows(1):
                dst.write(recode(src.read(1, window=window), src.nodata).astype(np.uint8), 1, window=window)
            if scales:
                dst.scales = scales
            dst.set_band_description(1, src.descriptions[0] or "")
            dst.update_tags(1, **src.tags(1))
    return target


def _copy(source: Path, target: Path, resampling: str) -> None:
    # The predictor (floating-point for float32) makes DEFLATE both faster and smaller here.
    rasterio.shutil.copy(source, target, driver="COG", COMPRESS="DEFLATE", PREDICTOR="YES", BLOCKSIZE=512,
                         OVERVIEWS="AUTO", RESAMPLING=resampling, NUM_THREADS="ALL_CPUS")
