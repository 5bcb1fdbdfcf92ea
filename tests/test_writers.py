"""The inventory's writers: one table of formats, matching the config's names; every format holds the
inventory's polygons and attributes, and the GeoPackage the candidates below the cut too."""

from typing import get_args

import pyogrio
import pyogrio.raw
import pytest
import shapely

from lim_tf.mapping.config import VectorFormat
from lim_tf.mapping.writers import WRITERS, write_inventory


def features(count: int, confidence: float) -> list[dict]:
    return [{"id": i + 1, "geometry": shapely.box(500000 + 10 * i, 3000000, 500005 + 10 * i, 3000005),
             "area_m2": 25.0, "confidence": confidence, "review": None} for i in range(count)]


def test_the_writer_table_is_the_one_list_of_formats():
    assert list(WRITERS) == list(get_args(VectorFormat))


@pytest.mark.parametrize("name", list(WRITERS))
def test_each_format_holds_the_inventory_whole(name, tmp_path):
    (path,) = write_inventory((name,), features(3, 0.9), features(2, 0.1), tmp_path, "EPSG:32648")
    meta, _, geometry, fields = pyogrio.raw.read(path, layer="inventory" if name == "gpkg" else 0)
    assert len(geometry) == 3 and {"area_m2", "confidence", "review"} <= set(meta["fields"])
    columns = list(meta["fields"])
    assert list(fields[columns.index("confidence")]) == [0.9, 0.9, 0.9]
    if name == "gpkg":  # the candidates beside it, with the same columns
        meta, _, geometry, fields = pyogrio.raw.read(path, layer="candidates")
        assert len(geometry) == 2 and list(fields[list(meta["fields"]).index("confidence")]) == [0.1, 0.1]
        assert [layer for layer, kind in pyogrio.list_layers(path) if kind] == ["inventory", "candidates"]
