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
from helpers import run
from PIL import Image
from rasterio.transform import from_origin

import lim_tf.mapping
from lim_tf.testing import threshold_model
from lim_tf.testing import write_rgb_scene as write_scene

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


def test_landslides_are_red_on_no_data_and_described(mapped):
    _, out = mapped
    with rasterio.open(out / "landslides.tif") as landslides:
        assert landslides.colormap(1)[1][:3] == (227, 26, 28)
        # 1 on no data: transparent around the landslides in any viewer, with or without the .qml
        assert landslides.descriptions[0] == "landslide" and landslides.nodata == 0
        assert set(np.unique(landslides.read(1))) == {0, 1}
    with rasterio.open(out / "probability.tif") as probability:
        assert probability.descriptions[0] == "landslide probability"
        assert probability.tags(1)["LANDSLIDE_THRESHOLD"] == "0.5"
        assert (probability.tags(1)["STATISTICS_MINIMUM"], probability.tags(1)["STATISTICS_MAXIMUM"]) == ("0", "1")
    for name in ("landslides", "probability"):  # the sidecars QGIS applies: well-formed, with the renderer
        renderer = ElementTree.parse(out / f"{name}.qml").getroot().find("pipe/rasterrenderer")
        assert renderer.get("type") == {"landslides": "paletted", "probability": "singlebandpseudocolor"}[name]
    palette = ElementTree.parse(out / "landslides.qml").getroot().findall(".//paletteEntry")
    assert [(e.get("value"), e.get("label")) for e in palette] == [("1", "landslide")]  # no "background" square


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


def _snapshot(out: Path, scene: Path, png: Path, order: str = "analyst") -> dict:
    environment = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": str(png.parent)}
    done = subprocess.run([QGIS_PYTHON, str(SNAPSHOT), str(out), str(png), "--scene", str(scene), "--size", "256",
                           "--order", order], capture_output=True, text=True, env=environment, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "partially supported" not in done.stderr and "Warning" not in done.stderr, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])["layers"]


def _pixels(png: Path):
    image = np.asarray(Image.open(png).convert("RGB")).astype(int)
    scale = image.shape[1] / (128 * 1.05)
    return lambda row, col: image[int(round((row + 128 * 0.025) * scale)), int(round((col + 128 * 0.025) * scale))]


@pytest.mark.skipif(not _qgis_available(), reason="QGIS is not installed (apt-get install qgis python3-qgis)")
def test_qgis_opens_the_outputs_styled_and_legible_in_either_order(mapped, tmp_path):
    scene, out = mapped
    empty = tmp_path / "empty"  # the scene alone, as QGIS stretches it, for the background's colours
    empty.mkdir()
    _snapshot(empty, scene, tmp_path / "scene.png")
    imagery = _pixels(tmp_path / "scene.png")
    for order in ("project", "analyst", "browser"):
        layers = _snapshot(out, scene, tmp_path / f"{order}.png", order)
        assert {name: layer["renderer"] for name, layer in layers.items()} == {
            "inventory": "RuleRenderer", "landslides": "paletted", "probability": "singlebandpseudocolor",
            "imagery" if order == "project" else "scene": "multibandcolor"}
        assert layers["landslides"]["value_at_largest_polygon"] == 1.0
        assert layers["landslides"]["legend"][1:] == ["landslide"]  # no transparent "background" square
        assert layers["inventory"]["legend"] == ["confirmed", "rejected (false alarm)",
                                                 "landslide, confidence 0.8 or more", "landslide (not reviewed)"]
        pixel = _pixels(tmp_path / f"{order}.png")
        inside, edge = pixel(50, 55), pixel(40, 50)  # inside the largest landslide, and on its top edge
        assert inside[0] > inside[1] + 60 and inside[0] > inside[2] + 60, (order, inside)  # red
        if order == "browser":  # polygons at the bottom: their outline still shows through both rasters
            assert edge[1] > inside[1] + 20, (order, edge, inside)
        else:  # the yellow outline on top
            assert edge[0] > 200 and edge[1] > 180 and edge[2] < 90, (order, edge)
        for row, col in ((110, 30), (20, 100), (100, 60)):  # background: the scene itself, nothing over it
            assert np.abs(pixel(row, col) - imagery(row, col)).max() < 40, (order, row, col)


@pytest.mark.skipif(not _qgis_available(), reason="QGIS is not installed (apt-get install qgis python3-qgis)")
def test_without_its_styles_the_landslide_raster_still_hides_no_ground(mapped, tmp_path):
    scene, out = mapped
    bare = tmp_path / "bare"
    bare.mkdir()
    (bare / "landslides.tif").write_bytes((out / "landslides.tif").read_bytes())  # copied out alone, no .qml
    _snapshot(bare, scene, tmp_path / "bare.png")
    empty = tmp_path / "empty"
    empty.mkdir()
    _snapshot(empty, scene, tmp_path / "scene.png")
    pixel, imagery = _pixels(tmp_path / "bare.png"), _pixels(tmp_path / "scene.png")
    inside = pixel(50, 55)
    assert inside[0] > 180 and inside[1] < 80, inside  # the colour table's red
    for row, col in ((110, 30), (20, 100), (100, 60)):  # not opaque black: no data is transparent
        assert np.abs(pixel(row, col) - imagery(row, col)).max() < 40, (row, col)



def test_the_docs_picture_shows_the_shipped_model_and_these_styles():
    """docs/qgis-demo-map.jpg (README, the site's home) is regenerated by `make qgis-screenshot`; its
    stamp says which weights and styles it shows, so a new model or style cannot leave it stale."""
    from lim_tf.mapping.styles import picture_stamp

    docs = Path(__file__).resolve().parents[1] / "docs"
    stamp = json.loads((docs / "qgis-demo-map.json").read_text())
    assert (docs / "qgis-demo-map.jpg").is_file()
    assert stamp == picture_stamp(stamp["model"]), "docs/qgis-demo-map.jpg is stale: run make qgis-screenshot"


def test_the_project_stacks_the_outputs_over_the_imagery_with_relative_paths(mapped):
    from lim_tf.mapping.project import PROJECT

    scene, out = mapped
    root = ElementTree.parse(out / PROJECT).getroot()
    tree = [(node.get("name"), node.get("source")) for node in root.find("layer-tree-group").iter("layer-tree-layer")]
    assert tree == [("inventory", "./inventory.gpkg|layername=inventory"), ("landslides", "./landslides.tif"),
                    ("probability", "./probability.tif"), ("imagery", str(scene.resolve()))]  # top first
    with rasterio.open(out / "landslides.tif") as landslides:
        extent = root.find("mapcanvas/extent")
        assert [float(extent.find(k).text) for k in ("xmin", "ymin", "xmax", "ymax")] == list(landslides.bounds)
        assert "32648" in root.find("projectCrs/spatialrefsys/wkt").text
    styles = {layer.find("layername").text: layer for layer in root.iter("maplayer")}
    assert styles["landslides"].find("pipe/rasterrenderer").get("type") == "paletted"
    assert styles["inventory"].find("renderer-v2").get("type") == "RuleRenderer"
