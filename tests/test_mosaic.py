"""mapping/mosaic.py: a VRT over scenes reads back as the scenes placed on one grid."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from rasterio.crs import CRS

from lim_tf.mapping.mosaic import write_mosaic
from lim_tf.testing import write_raster

NODATA = -1.0


def _scene(folder: Path, data: np.ndarray, origin: tuple[float, float], crs: str = "EPSG:32648") -> Path:
    folder.mkdir()
    return write_raster(folder / "probability.tif", data[None].astype(np.float32), crs=crs, pixel=2.0,
                        origin=origin, nodata=NODATA)


def test_side_by_side_scenes_read_back_on_one_grid_and_the_later_wins_on_overlap(tmp_path: Path) -> None:
    west = np.full((4, 6), 0.25, np.float32)
    east = np.full((4, 6), 0.75, np.float32)
    east[:, 0] = NODATA  # where the later scene has no data, the earlier one shows through
    # the east scene starts 4 columns (8 m) right of the west one: columns 4-5 overlap
    sources = [_scene(tmp_path / "a", west, (500000.0, 3000000.0)), _scene(tmp_path / "b", east, (500008.0, 3000000.0))]
    target = tmp_path / "region" / "probability.vrt"
    target.parent.mkdir()
    write_mosaic(sources, target, CRS.from_epsg(32648), "average")
    expected = np.full((4, 10), NODATA, np.float32)
    expected[:, :6] = west
    expected[:, 5:10] = 0.75
    with rasterio.open(target) as src:
        assert (src.width, src.height, src.nodata) == (10, 4, NODATA)
        assert src.transform.c == 500000.0 and src.transform.f == 3000000.0 and src.transform.a == 2.0
        assert np.array_equal(src.read(1), expected)
    assert "relativeToVRT=\"1\">../a/probability.tif" in target.read_text()  # nothing copied, folders movable


def test_a_scene_in_another_crs_is_warped_beside_the_mosaic(tmp_path: Path) -> None:
    utm = _scene(tmp_path / "a", np.full((4, 4), 0.5, np.float32), (500000.0, 3000000.0))
    with rasterio.open(utm) as src:  # the same ground in the next UTM zone's coordinates
        from rasterio.warp import transform_bounds
        left, bottom, right, top = transform_bounds(src.crs, "EPSG:32649", *src.bounds)
    other = _scene(tmp_path / "b", np.full((4, 4), 0.5, np.float32), (left, top), crs="EPSG:32649")
    target = tmp_path / "region.vrt"
    write_mosaic([utm, other], target, CRS.from_epsg(32648), "nearest")
    assert (tmp_path / "warped" / "b_probability.vrt").is_file()
    with rasterio.open(target) as src:
        data = src.read(1)
        assert src.crs == CRS.from_epsg(32648)
        assert np.isclose(data[data != NODATA], 0.5).all() and (data == 0.5).sum() >= 16
