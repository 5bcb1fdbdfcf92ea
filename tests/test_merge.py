"""mapping/merge.py: scene inventories become one, with polygons across a seam joined."""

from __future__ import annotations

from pathlib import Path

import pytest
import shapely
from rasterio.crs import CRS

from lim_tf.geo.vectors import write_vector
from lim_tf.mapping.merge import merge_inventories

X0, Y0 = 500000.0, 3000000.0  # UTM 48N metres


def _inventory(folder: Path, boxes: list[tuple[float, float, float, float]], probabilities: list[float]) -> Path:
    folder.mkdir()
    features = [{"id": i + 1, "geometry": shapely.box(X0 + a, Y0 + b, X0 + c, Y0 + d),
                 "area_m2": (c - a) * (d - b), "mean_probability": p, "max_probability": p + 0.1, "review": None}
                for i, ((a, b, c, d), p) in enumerate(zip(boxes, probabilities))]
    write_vector(features, folder / "inventory.gpkg", "EPSG:32648", "GPKG")
    return folder


def test_polygons_meeting_at_a_seam_become_one_with_area_weighted_attributes(tmp_path: Path) -> None:
    west = _inventory(tmp_path / "west", [(0, 0, 10, 10), (20, 0, 30, 10)], [0.6, 0.9])
    east = _inventory(tmp_path / "east", [(10, 0, 40, 10)], [0.8])  # touches both west polygons
    features = merge_inventories([("west", west), ("east", east)], CRS.from_epsg(32648))
    assert len(features) == 1
    merged = features[0]
    assert merged["scenes"] == "east,west"
    assert merged["geometry"].equals(shapely.box(X0, Y0, X0 + 40, Y0 + 10))
    # weights are the parts' own areas: 100, 100 and 300 m²
    assert merged["mean_probability"] == pytest.approx((0.6 * 100 + 0.9 * 100 + 0.8 * 300) / 500)
    assert merged["max_probability"] == pytest.approx(1.0)
    assert merged["area_m2"] == pytest.approx(400, rel=2e-3)  # geodesic area of a 40 x 10 m box in UTM


def test_polygons_of_one_scene_stay_apart_and_the_largest_comes_first(tmp_path: Path) -> None:
    only = _inventory(tmp_path / "one", [(0, 0, 10, 10), (10, 0, 30, 10)], [0.6, 0.9])  # touching, one scene
    apart = _inventory(tmp_path / "two", [(100, 100, 101, 101)], [0.7])  # no neighbour
    features = merge_inventories([("one", only), ("two", apart)], CRS.from_epsg(4326))
    assert [f["id"] for f in features] == [1, 2, 3]
    assert [round(f["area_m2"]) for f in features] == [200, 100, 1]
    assert [f["scenes"] for f in features] == ["one", "one", "two"]
    centre = features[2]
    assert 105.0 < centre["centroid_lon"] < 105.01  # 100 m east of UTM 48N's central meridian, 105° E
    assert 27.0 < centre["centroid_lat"] < 27.2


def test_an_empty_scene_inventory_adds_nothing(tmp_path: Path) -> None:
    empty = _inventory(tmp_path / "empty", [], [])
    one = _inventory(tmp_path / "one", [(0, 0, 10, 10)], [0.6])
    assert merge_inventories([("empty", empty)], CRS.from_epsg(32648)) == []
    assert len(merge_inventories([("empty", empty), ("one", one)], CRS.from_epsg(32648))) == 1
