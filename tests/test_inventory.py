"""Polygons from a landslide mask: a landslide across the strip edge stays one polygon, areas are
exact in map units, and the check against a reference inventory counts hand-placed cases."""

from __future__ import annotations

import numpy as np
import shapely

from lim_tf.mapping.inventory import STRIP, check_against, vectorize
from lim_tf.testing import write_raster


def test_a_landslide_across_a_strip_edge_is_one_polygon(tmp_path):
    mask = np.zeros((1, STRIP + 40, 30), np.uint8)
    mask[0, STRIP - 10:STRIP + 15, 5:9] = 1  # 25 rows x 4 columns, cut by the strip edge
    mask[0, 3:5, 20:23] = 1  # 2 x 3, whole in the first strip
    write_raster(tmp_path / "mask.tif", mask, pixel=2.0)
    polygons = sorted(vectorize(tmp_path / "mask.tif"), key=lambda p: p.area)
    assert [p.area for p in polygons] == [2 * 3 * 4.0, 25 * 4 * 4.0]  # 2 m pixels: 4 m² each
    assert all(p.geom_type == "Polygon" for p in polygons)


def test_detections_and_false_alarms_against_a_reference():
    reference = [shapely.Point(5, 5), shapely.box(20, 20, 30, 30), shapely.Point(100, 100)]
    predicted = [shapely.box(0, 0, 10, 10), shapely.box(25, 25, 40, 40), shapely.box(60, 60, 70, 70)]
    result = check_against(reference, predicted)
    assert (result["detected"], result["false_alarms"]) == (2, 1)
    assert result["detected_share"] == 2 / 3 and result["false_alarm_share"] == 1 / 3
    assert check_against([], predicted)["false_alarm_share"] == 1.0
    assert check_against(reference, [])["detected_share"] == 0.0
