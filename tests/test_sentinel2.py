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
