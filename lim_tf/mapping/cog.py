"""Cloud-Optimized GeoTIFFs of the per-pixel outputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
import rasterio.shutil

from lim_tf.mapping.predict import MASK_NODATA, PROBABILITY_NODATA


def write_cog(source: Path, target: Path, resampling: str, scale_to_uint8: bool = False) -> None:
    """Copy a tiled GeoTIFF to a Cloud-Optimized GeoTIFF with overviews (optionally as uint8 0..254)."""
    if scale_to_uint8:
        with rasterio.open(source) as src:
            profile = src.profile | {"dtype": "uint8", "nodata": MASK_NODATA}
            scaled = source.with_name(source.stem + "_uint8.tif")
            with rasterio.open(scaled, "w", **profile) as dst:
                for _, window in src.block_windows(1):
                    data = src.read(1, window=window)
                    out = np.where(data == PROBABILITY_NODATA, MASK_NODATA, np.round(data * 254))
                    dst.write(out.astype(np.uint8), 1, window=window)
                dst.scales = (1 / 254,)  # GDAL and QGIS unscale to probability
                dst.set_band_description(1, src.descriptions[0] or "")
                dst.update_tags(1, **src.tags(1))
        source = scaled
    # The predictor (floating-point for float32) makes DEFLATE both faster and smaller here.
    rasterio.shutil.copy(source, target, driver="COG", COMPRESS="DEFLATE", PREDICTOR="YES", BLOCKSIZE=512,
                         OVERVIEWS="AUTO", RESAMPLING=resampling, NUM_THREADS="ALL_CPUS")
