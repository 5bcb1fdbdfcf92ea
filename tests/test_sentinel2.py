import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from lim_tf.data.manifest import BandStatistics
from lim_tf.errors import InputError
from lim_tf.mapping.sentinel2 import find_bands, prepare_sentinel2
from lim_tf.testing import write_sentinel2_product as write_product


def test_bands_are_found_in_rgb_order(tmp_path):
    product, _ = write_product(tmp_path)
    assert [p.name.split("_")[2] for p in find_bands(product)] == ["B04", "B03", "B02"]
    with pytest.raises(InputError, match="no B99 band file"):
        find_bands(product, ("B04", "B99"))


def test_prepared_scene_is_resampled_and_matches_training_statistics(tmp_path):
    product, truth = write_product(tmp_path)
    statistics = [BandStatistics(name, mean, std, 0.0, 255.0)
                  for name, mean, std in (("red", 120.0, 30.0), ("green", 110.0, 25.0), ("blue", 90.0, 20.0))]
    out = prepare_sentinel2(find_bands(product), tmp_path / "rgb.tif", 5.0, statistics)
    with rasterio.open(out) as src:
        assert src.shape == (80, 80) and src.res == (5.0, 5.0) and src.crs.to_epsg() == 32645
        data = src.read()
    valid = data[0] > 0
    assert not valid[:10].any() and valid[12:].all()  # nodata rows stay nodata after resampling
    for band, stats in zip(data, statistics):
        assert abs(band[valid].mean() - stats.mean) < 3 and abs(band[valid].std() - stats.std) < 3
    # Red comes first: its brightest input pixel is still its brightest output pixel after the stretch.
    row, col = np.unravel_index(np.argmax(truth["B04"]), truth["B04"].shape)
    assert data[0][2 * row:2 * row + 2, 2 * col:2 * col + 2].max() >= np.percentile(data[0][valid], 95)


def test_map_a_sentinel2_product_through_the_cli(tmp_path):
    from helpers import run

    from lim_tf.testing import threshold_model

    product, _ = write_product(tmp_path)
    out = tmp_path / "map"
    result = run("map", product, threshold_model(tmp_path / "m.keras"), out, "--sentinel2", "--resolution", "5")
    assert result.exit_code == 0, result.output
    with rasterio.open(tmp_path / "map_sentinel2_rgb.tif") as scene, rasterio.open(out / "probability.tif") as mapped:
        assert scene.res == (5.0, 5.0) and mapped.transform == scene.transform and mapped.shape == (80, 80)
        assert (mapped.read(1)[:10] == mapped.nodata).all()  # nodata rows of the product stay nodata


def test_resolution_is_in_metres_in_a_geographic_crs(tmp_path):
    import rasterio

    from lim_tf.geo.grid import ground_resolution
    from lim_tf.mapping.sentinel2 import prepare_sentinel2

    bands = []
    for name in ("B04", "B03", "B02"):  # about 10 m near 22.4 N, as the Chittagong chips are
        path = tmp_path / f"T_{name}_10m.tif"
        with rasterio.open(path, "w", driver="GTiff", width=64, height=64, count=1, dtype="uint16",
                           crs="EPSG:4326", transform=from_origin(91.8, 22.49, 8.983e-5, 8.983e-5), nodata=0) as dst:
            dst.write(np.random.default_rng(0).integers(1000, 3000, (1, 64, 64)).astype(np.uint16))
        bands.append(path)
    prepare_sentinel2(bands, tmp_path / "rgb.tif", 2.0, None)
    with rasterio.open(bands[0]) as source, rasterio.open(tmp_path / "rgb.tif") as out:
        assert abs(ground_resolution(out) - 2.0) < 0.05
        np.testing.assert_allclose(out.bounds, source.bounds, atol=2e-5)  # the same footprint, finer pixels


def test_a_band_in_a_local_frame_is_refused_naming_it(tmp_path):
    """A damaged GeoKey can leave a band in a local (engineering) frame that GDAL cannot warp to the
    others' UTM: refused before any warping, naming that band."""
    from rasterio.crs import CRS

    product, _ = write_product(tmp_path)
    green = find_bands(product)[1]
    local = CRS.from_wkt('LOCAL_CS["WGS 84 / UTM zone 45N",UNIT["metre",1],AXIS["Easting",EAST],'
                         'AXIS["Northing",NORTH]]')
    with rasterio.open(green) as src:
        data, profile = src.read(), src.profile
    with rasterio.open(green, "w", **{**profile, "crs": local}) as dst:
        dst.write(data)
    with pytest.raises(InputError, match=f"{green}: cannot read this band file.*local frame"):
        prepare_sentinel2(find_bands(product), tmp_path / "out.tif", 10.0, None)
    assert not (tmp_path / "out.tif").exists()


def test_undecodable_bytes_from_gdal_are_a_one_line_refusal(tmp_path, monkeypatch):
    """Bytes that are not UTF-8 where GDAL gives a CRS name or a message: rasterio raises
    UnicodeDecodeError while opening, or reports it as "Exception ignored" from its log handler.
    The first is refused naming the band; the second prints nothing."""
    import sys
    from types import SimpleNamespace

    from lim_tf.mapping import sentinel2

    product, _ = write_product(tmp_path)
    bands = find_bands(product)
    opened = rasterio.open

    def damaged(path, *args, **kwargs):
        if str(path) == str(bands[2]):
            raise UnicodeDecodeError("utf-8", b"\x84", 0, 1, "invalid start byte")
        return opened(path, *args, **kwargs)

    monkeypatch.setattr(sentinel2.rasterio, "open", damaged)
    with pytest.raises(InputError, match=f"{bands[2]}: cannot read this band file"):
        prepare_sentinel2(bands, tmp_path / "out.tif", 10.0, None)
    monkeypatch.undo()
    reached, printed = [], []
    monkeypatch.setattr(sys, "unraisablehook", lambda unraisable: reached.append(unraisable.exc_value))
    monkeypatch.setattr(sys, "excepthook", lambda kind, value, traceback: printed.append(value))
    undecodable = UnicodeDecodeError("utf-8", b"\xb7", 0, 1, "invalid start byte")
    other = ValueError("not about bytes")
    with sentinel2._gdal_quiet():
        for error in (undecodable, other):  # as Cython reports an error in a callback: printed, then unraisable
            sys.excepthook(type(error), error, None)
            sys.unraisablehook(SimpleNamespace(exc_type=type(error), exc_value=error, exc_traceback=None,
                                               err_msg="Exception ignored in", object="log_error"))
    assert reached == printed == [other]  # only the undecodable message is dropped
    sys.excepthook(type(undecodable), undecodable, None)  # and only while reading bands
    assert printed == [other, undecodable]
