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


def _qgis_available() -> bool:
    import subprocess
    from pathlib import Path

    return Path("/usr/bin/python3").exists() and subprocess.run(
        ["/usr/bin/python3", "-c", "import qgis.core"], capture_output=True).returncode == 0


@pytest.mark.skipif(not _qgis_available(), reason="QGIS is not installed (apt-get install qgis python3-qgis)")
def test_qgis_and_gdal_read_the_flatgeobuf_inventory(tmp_path):
    """QGIS 3.22's own reader and GDAL's ogrinfo (Debian's 3.6) open inventory.fgb: 3 polygons."""
    import os
    import shutil
    import subprocess

    (path,) = write_inventory(("fgb",), features(3, 0.9), None, tmp_path, "EPSG:32648")
    code = ("from qgis.core import QgsApplication, QgsVectorLayer; app = QgsApplication([], False); app.initQgis(); "
            f"layer = QgsVectorLayer({str(path)!r}, 'inventory', 'ogr'); "
            "print(layer.isValid(), layer.featureCount(), layer.crs().authid())")
    done = subprocess.run(["/usr/bin/python3", "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": str(tmp_path)})
    assert done.stdout.split()[-3:] == ["True", "3", "EPSG:32648"], done.stderr
    if shutil.which("ogrinfo"):
        info = subprocess.run(["ogrinfo", "-so", "-al", str(path)], capture_output=True, text=True).stdout
        assert "Feature Count: 3" in info and "confidence" in info


@pytest.mark.skipif(not _qgis_available(), reason="QGIS is not installed (apt-get install qgis python3-qgis)")
def test_qgis_reads_a_grouped_polygon_of_two_parts_beside_single_ones(tmp_path):
    """A grouped landslide is one feature of two parts among plain polygons, in either layer:
    QGIS 3.22 opens both layers as multi-polygons with the parts kept."""
    import os
    import subprocess

    inventory, candidates = features(2, 0.9), features(1, 0.1)
    inventory[0]["geometry"] = shapely.MultiPolygon([shapely.box(500000, 3000000, 500005, 3000005),
                                                     shapely.box(500020, 3000000, 500025, 3000005)])
    (path,) = write_inventory(("gpkg",), inventory, candidates, tmp_path, "EPSG:32648")
    code = ("from qgis.core import QgsApplication, QgsVectorLayer, QgsWkbTypes; app = QgsApplication([], False); "
            "app.initQgis()\n"
            "for name in ('inventory', 'candidates'):\n"
            f"    layer = QgsVectorLayer({str(path)!r} + '|layername=' + name, name, 'ogr')\n"
            "    parts = sorted(len(f.geometry().asMultiPolygon()) for f in layer.getFeatures())\n"
            "    print(name, layer.isValid(), QgsWkbTypes.displayString(layer.wkbType()), *parts)")
    done = subprocess.run(["/usr/bin/python3", "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": str(tmp_path)})
    lines = [line.split() for line in done.stdout.splitlines() if line.startswith(("inventory", "candidates"))]
    assert lines == [["inventory", "True", "MultiPolygon", "1", "2"], ["candidates", "True", "MultiPolygon", "1"]], \
        done.stderr
