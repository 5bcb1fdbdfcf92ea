"""map.qgs: a QGIS project beside the outputs that opens them stacked as they read best, whatever
order an analyst would have dragged the files in: polygons on top, then the landslide raster, the
probability ramp and the mapped imagery at the bottom, each with lim-tf's style, zoomed to the map.
The outputs' paths are relative (the folder can move); the imagery keeps its own path, local or
remote. Plain XML that QGIS 3.22 and later read: no QGIS is needed to write it."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from pathlib import Path
from xml.sax.saxutils import escape

from lim_tf.mapping.styles import CANDIDATES_QML, INVENTORY_QML, LANDSLIDES_QML, PROBABILITY_QML

PROJECT = "map.qgs"


def _style(qml: str) -> str:
    """The children of a QML document's root: what a project's <maplayer> holds of the layer's style."""
    root = ElementTree.fromstring(qml.split("\n", 1)[1])
    return "".join(ElementTree.tostring(child, encoding="unicode") for child in root)


def _srs(wkt: str) -> str:
    return f"<spatialrefsys><wkt>{escape(wkt)}</wkt></spatialrefsys>" if wkt else ""


def _image_path(scene: str) -> str:
    """A scene as the project must name it: GDAL paths as they are, files absolute (the project's
    own outputs are relative to it, the imagery is not)."""
    return scene if scene.startswith("/vsi") or "://" in scene else str(Path(scene).resolve())


def _maplayer(layer_id: str, name: str, kind: str, source: str, provider: str, style: str, wkt: str) -> str:
    geometry = ' geometry="Polygon"' if kind == "vector" else ""
    return (f'<maplayer type="{kind}"{geometry} styleCategories="AllStyleCategories"><id>{layer_id}</id>'
            f"<datasource>{escape(source)}</datasource><layername>{escape(name)}</layername><srs>{_srs(wkt)}</srs>"
            f"<provider>{provider}</provider>{style}</maplayer>")


def write_project(folder: Path, crs_wkt: str | None, bounds: tuple[float, float, float, float],
                  scenes: list[str], suffix: str = ".tif", candidates: bool = False) -> Path:
    """Write FOLDER/map.qgs: inventory.gpkg, landslides and probability (`suffix` .tif for a scene,
    .vrt for a region's mosaics) over the imagery of `scenes`, zoomed to `bounds` in `crs_wkt`."""
    wkt = crs_wkt or ""
    # (id, kind, source, provider, style): top of the stack first
    layers = [("candidates", "vector", "./inventory.gpkg|layername=candidates", "ogr", _style(CANDIDATES_QML)),
              ("inventory", "vector", "./inventory.gpkg|layername=inventory", "ogr", _style(INVENTORY_QML)),
              ("landslides", "raster", f"./landslides{suffix}", "gdal", _style(LANDSLIDES_QML)),
              ("probability", "raster", f"./probability{suffix}", "gdal", _style(PROBABILITY_QML))]
    layers = layers if candidates else layers[1:]  # the candidates layer exists where a confidence model split
    names = [Path(scene.rstrip("/")).stem or "scene" for scene in scenes]
    layers += [(f"imagery {name}" if len(scenes) > 1 else "imagery", "raster", _image_path(scene), "gdal", "")
               for name, scene in zip(names, scenes)]  # QGIS's own RGB rendering
    ids = [f"layer{index}_lim_tf" for index in range(len(layers))]  # QGIS renews ids without an underscore
    tree = "".join(f'<layer-tree-layer id="{i}" name="{escape(name)}" source="{escape(source)}" providerKey="{provider}" '
                   f'checked="Qt::{"Unchecked" if name == "candidates" else "Checked"}" expanded="{int(kind == "vector")}"/>'
                   for i, (name, kind, source, provider, _) in zip(ids, layers))
    maps = "".join(_maplayer(i, *layer, wkt) for i, layer in zip(ids, layers))
    west, south, east, north = bounds
    extent = f"<extent><xmin>{west!r}</xmin><ymin>{south!r}</ymin><xmax>{east!r}</xmax><ymax>{north!r}</ymax></extent>"
    text = ("<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
            '<qgis projectname="lim-tf map" version="3.22.16"><title>lim-tf map</title>'
            f"<projectCrs>{_srs(wkt)}</projectCrs><layer-tree-group><customproperties/>{tree}</layer-tree-group>"
            f'<mapcanvas name="theMapCanvas">{extent}<rotation>0</rotation><destinationsrs>{_srs(wkt)}</destinationsrs>'
            f"</mapcanvas><projectlayers>{maps}</projectlayers>"
            '<properties><Paths><Absolute type="bool">false</Absolute></Paths>'
            # without this QGIS ignores <projectCrs>
            '<SpatialRefSys><ProjectionsEnabled type="int">1</ProjectionsEnabled></SpatialRefSys></properties></qgis>\n')
    target = Path(folder) / PROJECT
    target.write_text(text, encoding="utf-8")
    return target
