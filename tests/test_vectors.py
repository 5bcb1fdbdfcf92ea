"""Vector inventories: GeoPackage and GeoJSON round trips, reprojection on read, geodesic areas."""

from __future__ import annotations

import pytest
import rasterio.crs
import shapely

from lim_tf.errors import InputError
from lim_tf.geo.vectors import geodesic_area_perimeter, read_inventory, write_vector

UTM = rasterio.crs.CRS.from_epsg(32648)


def _squares() -> list[dict]:
    return [{"id": i, "geometry": shapely.box(500000 + 100 * i, 3000000, 500050 + 100 * i, 3000050),
             "area_m2": 2500.0, "review": None} for i in range(3)]


@pytest.mark.parametrize("driver, name", [("GPKG", "inventory.gpkg"), ("GeoJSON", "inventory.geojson")])
def test_polygons_come_back_in_the_crs_asked_for(tmp_path, driver, name):
    write_vector(_squares(), tmp_path / name, UTM, driver)
    back = read_inventory(tmp_path / name, UTM)  # GeoJSON is stored in WGS84 and reprojected on read
    assert len(back) == 3
    for original, read in zip(_squares(), back):
        assert read.symmetric_difference(original["geometry"]).area < 1e-3


def test_a_one_hectare_square_measures_one_hectare_on_the_ellipsoid():
    area, perimeter = geodesic_area_perimeter([shapely.box(500000, 3000000, 500100, 3000100)], UTM)
    # UTM's scale factor near the central meridian is 0.9996: lengths read 0.04 % long on the grid
    assert area[0] == pytest.approx(1e4 / 0.9996**2, rel=1e-4)
    assert perimeter[0] == pytest.approx(400 / 0.9996, rel=1e-4)


def test_an_unreadable_inventory_is_one_line(tmp_path):
    (tmp_path / "broken.gpkg").write_bytes(b"not a geopackage")
    with pytest.raises(InputError, match="broken.gpkg: cannot read the inventory"):
        read_inventory(tmp_path / "broken.gpkg", UTM)
