"""Each source reader on generated fixtures and on the real files in ../shared/data."""

from pathlib import Path

import h5py
import numpy as np
import pyogrio.raw
import pytest
import rasterio
import shapely
from conftest import shared_path
from PIL import Image

from lim_tf.config import ChipConfig, SourceConfig
from lim_tf.data.sample import IGNORE, LANDSLIDE, parse_value_map
from lim_tf.data.sources.bijie import read_bijie
from lim_tf.data.sources.folder import read_folder
from lim_tf.data.sources.geotiff import read_geotiff
from lim_tf.data.sources.l4s import read_l4s
from lim_tf.testing import write_scene


def test_bijie_masks_map_255_to_landslide_and_backgrounds_get_empty_masks(bijie_dir):
    samples = list(read_bijie(bijie_dir, SourceConfig()))
    assert len(samples) == 10
    for sample in samples:
        raw_mask_path = bijie_dir / "landslide/mask" / (sample.sample_id.split("/")[1] + ".png")
        if sample.sample_id.startswith("landslide/"):
            expected = (np.asarray(Image.open(raw_mask_path)) == 255).astype(np.uint8)
            np.testing.assert_array_equal(sample.mask, expected)
        else:
            assert not sample.mask.any()
        assert sample.band_names == ("red", "green", "blue")


def test_folder_with_value_map_and_jpeg(tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 255, (16, 20, 3), dtype=np.uint8)).save(tmp_path / "images/a.jpg")
    raw = rng.integers(0, 3, (16, 20)).astype(np.uint8)
    Image.fromarray(raw).save(tmp_path / "masks/a.png")
    value_map = parse_value_map("2=landslide,1=background,0=ignore")
    (sample,) = read_folder(tmp_path, SourceConfig(format="folder", mask_values=value_map))
    np.testing.assert_array_equal(sample.mask == LANDSLIDE, raw == 2)
    np.testing.assert_array_equal(sample.mask == IGNORE, raw == 0)


def write_l4s(root: Path, count: int) -> None:
    (root / "img").mkdir(parents=True)
    (root / "mask").mkdir()
    rng = np.random.default_rng(0)
    for n in range(1, count + 1):
        with h5py.File(root / f"img/image_{n}.h5", "w") as f:
            f["img"] = rng.random((8, 8, 14))
        with h5py.File(root / f"mask/mask_{n}.h5", "w") as f:
            f["mask"] = (rng.random((8, 8)) > 0.7).astype(np.uint8)


def test_l4s_band_selection_by_name_and_index_agree(tmp_path):
    write_l4s(tmp_path, 2)
    by_name = list(read_l4s(tmp_path, SourceConfig(format="l4s", bands=("B4", "B3", "B2", "dem"))))
    by_index = list(read_l4s(tmp_path, SourceConfig(format="l4s", bands=("4", "3", "2", "14"))))
    with h5py.File(tmp_path / "img/image_1.h5") as f:
        raw = np.asarray(f["img"])
    np.testing.assert_allclose(by_name[0].image, raw[..., [3, 2, 1, 13]].astype(np.float32))
    np.testing.assert_array_equal(by_name[0].image, by_index[0].image)
    assert by_name[0].band_names == ("B4", "B3", "B2", "dem")


def test_geotiff_chips_skip_nodata_and_pad_with_ignore(tmp_path):
    data = np.full((3, 40, 50), 7, np.uint16)
    data[:, :20, :] = 0  # top half nodata: the first row of 16-px chips is all nodata
    labels = np.zeros((1, 40, 50), np.uint8)
    labels[0, 30:34, 10:14] = 1
    write_scene(tmp_path / "scene.tif", data)
    write_scene(tmp_path / "labels.tif", labels)
    config = SourceConfig(format="geotiff", labels=str(tmp_path / "labels.tif"), nodata=0)
    samples = list(read_geotiff(tmp_path / "scene.tif", config, ChipConfig(size=16)))
    # Rows 0, 16, 32; row 0 is all nodata; columns 0, 16, 32, 48 -> 2 x 4 chips.
    assert len(samples) == 8
    assert sum(int((s.mask == LANDSLIDE).sum()) for s in samples) == 16
    edge = next(s for s in samples if s.sample_id.endswith("r32_c48"))
    assert (edge.mask[:, 2:] == IGNORE).all() and (edge.mask[8:, :] == IGNORE).all()
    partial = next(s for s in samples if s.sample_id.endswith("r16_c0"))
    assert (partial.mask[:4] == IGNORE).all() and not (partial.mask[4:] == IGNORE).any()


def test_geotiff_vector_labels_are_rasterised_in_scene_crs(tmp_path):
    write_scene(tmp_path / "scene.tif", np.ones((1, 32, 32), np.uint8))
    # A 20 m x 20 m square (10 x 10 pixels of 2 m) given in WGS84 must be reprojected.
    square = shapely.box(500010, 2999980, 500030, 3000000)
    from rasterio.warp import transform_geom
    wgs84 = shapely.geometry.shape(transform_geom("EPSG:32648", "EPSG:4326", shapely.geometry.mapping(square)))
    pyogrio.raw.write(tmp_path / "inv.gpkg", shapely.to_wkb([wgs84]), [np.array([1])], ["id"],
                      driver="GPKG", geometry_type="Polygon", crs="EPSG:4326")
    config = SourceConfig(format="geotiff", labels=str(tmp_path / "inv.gpkg"))
    (sample,) = read_geotiff(tmp_path / "scene.tif", config, ChipConfig(size=32))
    assert abs(int((sample.mask == LANDSLIDE).sum()) - 100) <= 4  # edge pixels after reprojection


@pytest.mark.shared
def test_real_bijie(tmp_path):
    root = shared_path("bijie")
    # A few real files through the real reader: link them into the Bijie layout.
    for folder in ("landslide/image", "landslide/mask", "non-landslide/image"):
        (tmp_path / folder).mkdir(parents=True)
        for path in sorted((root / folder).glob("*.png"))[:3]:
            (tmp_path / folder / path.name).symlink_to(path)
    samples = list(read_bijie(tmp_path, SourceConfig()))
    assert len(samples) == 6
    assert all(s.mask.any() for s in samples[:3]) and not any(s.mask.any() for s in samples[3:])
    assert all(s.image.dtype == np.uint8 and s.image.shape[-1] == 3 for s in samples)


@pytest.mark.shared
def test_real_l4s_rgb_slope_dem():
    root = shared_path("landslide4sense")
    samples = list(read_l4s(root, SourceConfig(format="l4s", bands=("B4", "B3", "B2", "slope", "dem"))))
    assert [s.sample_id for s in samples] == ["image_1", "image_3", "image_72", "image_150", "image_512"]
    fractions = {s.sample_id: (s.mask == LANDSLIDE).mean() for s in samples}
    assert fractions["image_3"] == 0 and abs(fractions["image_512"] - 0.295) < 0.005  # README's table
    assert samples[0].image.shape == (128, 128, 5)


@pytest.mark.shared
def test_real_jiuzhaigou_folder():
    root = shared_path("jiuzhaigou")
    samples = list(read_folder(root, SourceConfig(format="folder")))
    assert len(samples) == 60
    mean_fraction = np.mean([(s.mask == LANDSLIDE).mean() for s in samples])
    assert 0.2 < mean_fraction < 0.45  # README: mean 32 %


@pytest.mark.shared
def test_real_sentinel2_geotiff_with_zero_nodata_and_sparse_labels():
    root = shared_path("sentinel2_chittagong")
    config = SourceConfig(format="geotiff", nodata=0, bands=("1", "2", "3"),
                          mask_values=parse_value_map("0=ignore,1=background,2=landslide"))
    samples = list(read_geotiff(root, config, ChipConfig(size=256)))
    assert 0 < len(samples) <= 15  # all-nodata tiles are dropped
    with rasterio.open(root / "labels/000000000001.tif") as src:
        raw = src.read(1)
    (tile,) = [s for s in samples if s.sample_id.startswith("000000000001")]
    with rasterio.open(root / "images/000000000001.tif") as src:
        nodata = np.all(src.read() == 0, axis=0)
    np.testing.assert_array_equal(tile.mask == LANDSLIDE, (raw == 2) & ~nodata)
    assert (tile.mask[nodata] == IGNORE).all()


def test_bijie_dem_becomes_an_extra_band(bijie_dir):
    for folder in ("landslide", "non-landslide"):
        (bijie_dir / folder / "dem").mkdir()
        for image in (bijie_dir / folder / "image").glob("*.png"):
            height, width = np.asarray(Image.open(image)).shape[:2]
            dem = (np.arange(height * width) % 251).reshape(height, width).astype(np.uint8)
            Image.fromarray(dem).save(bijie_dir / folder / "dem" / image.name)
    samples = list(read_bijie(bijie_dir, SourceConfig(include_dem=True)))
    assert all(s.band_names == ("red", "green", "blue", "dem") for s in samples)
    first = samples[0]
    np.testing.assert_array_equal(first.image[..., 3], (np.arange(first.mask.size) % 251).reshape(first.mask.shape))


def test_the_source_table_is_the_one_list_of_formats():
    from typing import get_args

    from lim_tf.config import SourceFormat
    from lim_tf.data.sources import KIND_RATIOS, SOURCES

    assert list(SOURCES) == list(get_args(SourceFormat))  # the CLI's --format choices come from the Literal
    assert KIND_RATIOS == {"bijie": 2003 / 770}
