"""mapping/cog.py: the per-pixel outputs as Cloud-Optimized GeoTIFFs, optionally scaled to uint8."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio

from lim_tf.mapping.cog import write_cog
from lim_tf.mapping.predict import MASK_NODATA, PROBABILITY_NODATA
from lim_tf.testing import write_raster


@pytest.fixture
def probability(tmp_path: Path) -> Path:
    rng = np.random.default_rng(4)
    data = rng.random((1, 700, 600), dtype=np.float32)
    data[0, :10] = PROBABILITY_NODATA
    path = write_raster(tmp_path / "probability_raw.tif", data, nodata=PROBABILITY_NODATA, tiled=True,
                        blockxsize=256, blockysize=256)
    with rasterio.open(path, "r+") as dst:
        dst.set_band_description(1, "landslide probability")
    return path


def test_a_float_cog_keeps_every_value_and_has_overviews(tmp_path: Path, probability: Path) -> None:
    target = tmp_path / "probability.tif"
    write_cog(probability, target, "average")
    with rasterio.open(probability) as raw, rasterio.open(target) as cog:
        assert np.array_equal(cog.read(1), raw.read(1))
        assert cog.tags(ns="IMAGE_STRUCTURE")["LAYOUT"] == "COG"
        assert cog.profile["compress"] == "deflate" and cog.block_shapes[0] == (512, 512)
        assert cog.overviews(1) == [2]  # 700 px: one level down to under 512
        assert cog.crs == raw.crs and cog.transform == raw.transform


def test_a_uint8_cog_is_probability_times_254_with_its_scale_and_nodata(tmp_path: Path, probability: Path) -> None:
    target = tmp_path / "probability.tif"
    write_cog(probability, target, "average", scale_to_uint8=True)
    with rasterio.open(probability) as raw, rasterio.open(target) as cog:
        values = raw.read(1)
        expected = np.where(values == PROBABILITY_NODATA, MASK_NODATA, np.round(values * 254)).astype(np.uint8)
        assert cog.dtypes[0] == "uint8" and cog.nodata == MASK_NODATA
        assert np.array_equal(cog.read(1), expected)
        assert cog.scales[0] == pytest.approx(1 / 254)  # GDAL and QGIS read it back as probability
        assert cog.descriptions[0] == "landslide probability"
