"""An analyst's review as labels, checked pixel by pixel against an independent computation."""

import numpy as np
import pyogrio.raw
import pytest
import shapely
from helpers import assert_one_line_error, run

from lim_tf.config import ChipConfig, SourceConfig
from lim_tf.data.sample import IGNORE
from lim_tf.data.sources.geotiff import read_geotiff
from lim_tf.testing import write_scene

X0, Y0, PIXEL = 500000.0, 3000000.0, 2.0  # test_sources.write_scene's grid: 2 m pixels from this corner
MARGIN = 6.0


def box(row: int, col: int, rows: int, cols: int) -> shapely.Polygon:
    return shapely.box(X0 + col * PIXEL, Y0 - (row + rows) * PIXEL, X0 + (col + cols) * PIXEL, Y0 - row * PIXEL)


# (geometry, review): a confirmed prediction, a false alarm, one not looked at, one the analyst drew.
EDITED = [(box(4, 4, 6, 6), "confirmed"), (box(20, 20, 5, 8), "rejected"), (box(40, 40, 6, 6), None),
          (box(8, 30, 4, 4), "confirmed")]


def write_edited(path, features) -> None:
    geometries = shapely.to_wkb([g for g, _ in features])
    reviews = np.array([r for _, r in features], dtype=object)
    probability = np.array([0.9] * len(features))
    pyogrio.raw.write(path, geometries, [np.arange(1, len(features) + 1), probability, reviews],
                      ["id", "mean_probability", "review"], driver="GPKG", geometry_type="Polygon", crs="EPSG:32648")


def expected_mask(height: int, width: int) -> np.ndarray:
    """Labels from pixel centres, in the documented order: reviewed ground (reviewed polygons grown by
    the margin) is background, rejected stays background, unreviewed is ignored, confirmed is landslide."""
    rows, cols = np.mgrid[0:height, 0:width]
    centres = shapely.points(X0 + (cols + 0.5) * PIXEL, Y0 - (rows + 0.5) * PIXEL)
    mask = np.full((height, width), IGNORE, np.uint8)
    reviewed = [g for g, r in EDITED if r]
    mask[shapely.contains(shapely.unary_union([g.buffer(MARGIN) for g in reviewed]), centres)] = 0
    for geometry, review in EDITED:
        inside = shapely.contains(geometry, centres)
        mask[inside] = {"confirmed": 1, "rejected": 0, None: IGNORE}[review]
    return mask


def test_review_labels_pixel_by_pixel(tmp_path):
    write_scene(tmp_path / "scene.tif", np.full((3, 64, 64), 90, np.uint8))
    write_edited(tmp_path / "edited.gpkg", EDITED)
    config = SourceConfig(format="geotiff", labels=str(tmp_path / "edited.gpkg"), review=True, review_margin=MARGIN)
    samples = list(read_geotiff(tmp_path / "scene.tif", config, ChipConfig(mode="grid", size=64)))
    assert len(samples) == 1
    np.testing.assert_array_equal(samples[0].mask, expected_mask(64, 64))
    assert (samples[0].mask == 1).sum() == 36 + 16 and (samples[0].mask == IGNORE).any()


def test_an_explicit_labelled_area_replaces_the_margin(tmp_path):
    write_scene(tmp_path / "scene.tif", np.full((3, 32, 32), 90, np.uint8))
    write_edited(tmp_path / "edited.gpkg", EDITED[:1])
    area = box(0, 0, 16, 32)  # the analyst checked the top half
    pyogrio.raw.write(tmp_path / "area.gpkg", shapely.to_wkb([area]), [np.array([1])], ["id"], driver="GPKG",
                      geometry_type="Polygon", crs="EPSG:32648")
    config = SourceConfig(format="geotiff", labels=str(tmp_path / "edited.gpkg"), review=True,
                          labelled_area=str(tmp_path / "area.gpkg"))
    mask = next(iter(read_geotiff(tmp_path / "scene.tif", config, ChipConfig(mode="grid", size=32)))).mask
    assert (mask[:16] != IGNORE).all() and (mask[16:] == IGNORE).all()
    assert (mask[4:10, 4:10] == 1).all() and (mask == 1).sum() == 36


@pytest.mark.parametrize("reviews, fragment", [([None], "no polygon is marked"), (["maybe"], "'maybe' is not one of")])
def test_reviews_that_label_nothing_or_say_something_else_are_refused(tmp_path, reviews, fragment):
    write_scene(tmp_path / "scene.tif", np.full((3, 32, 32), 90, np.uint8))
    write_edited(tmp_path / "edited.gpkg", [(box(4, 4, 6, 6), r) for r in reviews])
    result = run("data", "build", tmp_path / "scene.tif", tmp_path / "out", "--format", "geotiff", "--labels",
                 tmp_path / "edited.gpkg", "--review", "--chip-size", "16")
    assert_one_line_error(result, "edited.gpkg", fragment)
    assert not (tmp_path / "out").exists()


def test_the_reviewed_labels_come_in_burning_order_with_their_counts(tmp_path):
    from rasterio.crs import CRS

    from lim_tf.data.review import read_reviewed

    write_edited(tmp_path / "edited.gpkg", EDITED)
    labels = read_reviewed(tmp_path / "edited.gpkg", CRS.from_epsg(32648), MARGIN)
    assert (labels.confirmed, labels.rejected, labels.unreviewed) == (2, 1, 1)
    classes = [value for _, value in labels.shapes]
    assert classes == [0, 0, IGNORE, 1, 1]  # labelled area, rejected, unreviewed, then confirmed on top
    area = labels.shapes[0][0]
    grown = shapely.unary_union([g.buffer(MARGIN) for g, r in EDITED if r])
    assert area.symmetric_difference(grown).area < 1e-6 and not area.contains(EDITED[2][0])
