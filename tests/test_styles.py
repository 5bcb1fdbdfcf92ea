"""Map outputs that open styled: colour table, band descriptions, QML sidecars, the GeoPackage's default
style (version 1.2), a landslide raster that agrees with the cleaned polygons, and QGIS itself."""

import json
import os
import sqlite3
import subprocess
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import numpy as np
import pytest
import rasterio
from PIL import Image
from rasterio.transform import from_origin
from test_cli_data import run
from test_mapping import threshold_model, write_scene

import lim_tf.mapping

QGIS_PYTHON = "/usr/bin/python3"
SNAPSHOT = Path(lim_tf.mapping.__file__).with_name("qgis_snapshot.py")
# (row, col, size) squares of band 1 = 200 on 50; the model maps band 1 >= 128. One square has a hole.
SQUARES = [(10, 10, 9), (40, 40, 20), (70, 10, 6), (90, 90, 11)]
HOLE = (45, 45, 4)


def styled_scene(tmp_path: Path) -> Path:
    band = np.full((128, 128), 50, np.uint8)
    for row, col, size in SQUARES:
        band[row:row + size, col:col + size] = 200
    row, col, size = HOLE
    band[row:row + size, col:col + size] = 50
    return write_scene(tmp_path / "scene.tif", "EPSG:32648", from_origin(500000, 3000000, 1, 1), band)


@pytest.fixture(scope="module")
def mapped(tmp_path_factory):
    folder = tmp_path_factory.mktemp("styled")
    scene = styled_scene(folder)
    result = run("map", scene, threshold_model(folder / "known.keras"), folder / "out", "--min-area", "50",
                 "--fill-holes")
    assert result.exit_code == 0, result.output
    return scene, folder / "out"


def test_landslides_are_red_on_transparent_and_described(mapped):
    _, out = mapped
    with rasterio.open(out / "landslides.tif") as landslides:
        assert landslides.colormap(1)[1][:3] == (227, 26, 28)
        assert "landslide" in landslides.descriptions[0] and landslides.nodata == 255
    with rasterio.open(out / "probability.tif") as probability:
        assert probability.descriptions[0] == "landslide probability"
        assert probability.tags(1)["LANDSLIDE_THRESHOLD"] == "0.5"
        assert (probability.tags(1)["STATISTICS_MINIMUM"], probability.tags(1)["STATISTICS_MAXIMUM"]) == ("0", "1")
    for name in ("landslides", "probability"):  # the sidecars QGIS applies: well-formed, with the renderer
        renderer = ElementTree.parse(out / f"{name}.qml").getroot().find("pipe/rasterrenderer")
        assert renderer.get("type") == {"landslides": "paletted", "probability": "singlebandpseudocolor"}[name]
    palette = ElementTree.parse(out / "landslides.qml").getroot().findall(".//paletteEntry")
    assert {(e.get("value"), e.get("alpha")) for e in palette} == {("0", "0"), ("1", "255")}


def test_the_geopackage_is_version_1_2_with_a_default_style_and_an_empty_review_column(mapped):
    _, out = mapped
    with sqlite3.connect(out / "inventory.gpkg") as db:
        assert db.execute("PRAGMA application_id").fetchone()[0] == 0x47504B47  # 'GPKG'
        assert db.execute("PRAGMA user_version").fetchone()[0] == 10200
        name, default, qml = db.execute("SELECT f_table_name, useAsDefault, styleQML FROM layer_styles").fetchone()
        assert (name, default) == ("inventory", 1)
        assert ElementTree.fromstring(qml.split("\n", 1)[1]).find("renderer-v2").get("type") == "RuleRenderer"
        assert db.execute("SELECT DISTINCT review FROM inventory").fetchall() == [(None,)]


def test_the_landslide_raster_is_the_polygons_after_min_area_and_fill_holes(mapped):
    _, out = mapped
    expected = np.zeros((128, 128), np.uint8)
    for row, col, size in SQUARES:
        if size * size >= 50:  # 6 x 6 = 36 m² is under --min-area; the hole is filled by --fill-holes
            expected[row:row + size, col:col + size] = 1
    with rasterio.open(out / "landslides.tif") as landslides:
        np.testing.assert_array_equal(landslides.read(1), expected)
    with rasterio.open(out / "probability.tif") as probability:  # the raw threshold stays in the probabilities
        raw = probability.read(1) >= 0.5
    assert raw[HOLE[0] + 1, HOLE[1] + 1] == 0 and raw[72, 12] == 1


def _qgis_available() -> bool:
    if not Path(QGIS_PYTHON).exists():
        return False
    found = subprocess.run([QGIS_PYTHON, "-c", "import qgis.core"], capture_output=True)
    return found.returncode == 0


@pytest.mark.skipif(not _qgis_available(), reason="QGIS is not installed (apt-get install qgis python3-qgis)")
def test_qgis_opens_the_outputs_styled_and_without_warnings(mapped, tmp_path):
    scene, out = mapped
    png = tmp_path / "map.png"
    environment = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": str(tmp_path)}
    done = subprocess.run([QGIS_PYTHON, str(SNAPSHOT), str(out), str(png), "--scene", str(scene), "--size", "256"],
                          capture_output=True, text=True, env=environment, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "partially supported" not in done.stderr and "Warning" not in done.stderr, done.stderr
    layers = json.loads(done.stdout.strip().splitlines()[-1])["layers"]
    assert {name: layer["renderer"] for name, layer in layers.items()} == {
        "inventory": "RuleRenderer", "landslides": "paletted", "probability": "singlebandpseudocolor",
        "scene": "multibandcolor"}
    assert layers["landslides"]["value_at_largest_polygon"] == 1.0
    image = np.asarray(Image.open(png).convert("RGB")).astype(int)
    scale = image.shape[1] / (128 * 1.05)
    pixel = lambda row, col: image[int(round((row + 128 * 0.025) * scale)), int(round((col + 128 * 0.025) * scale))]  # noqa: E731
    red = pixel(50, 55)  # inside the largest landslide
    assert red[0] > 180 and red[1] < 80 and red[2] < 80, red
    ground = pixel(110, 30)  # background: the scene shows through the landslide layer
    assert ground.sum() > 60 and not (ground[0] > 180 and ground[1] < 80), ground

