"""Open a `lim-tf map` output folder in QGIS as an analyst would, and render it to a PNG.

Runs under QGIS's own Python (PyQGIS, e.g. Debian's python3-qgis), not lim-tf's environment, so it
imports nothing from lim_tf:

    QT_QPA_PLATFORM=offscreen /usr/bin/python3 qgis_snapshot.py MAP_FOLDER OUT.png [--scene SCENE.tif]

Layers are added with QGIS's defaults, so what it shows is what a user sees: the styles lim-tf wrote
(QML sidecars, the GeoPackage's layer_styles) or QGIS's own when they are missing. `--order analyst`
stacks scene, probability, landslides and polygons bottom-up; `--order browser` stacks them as
dragging the folder's files in alphabetical order does (polygons at the bottom, probability on top);
`--order project` opens the folder's map.qgs instead, as a double click on it does.
The last line printed is a JSON report: per layer, whether it is valid, the renderer QGIS chose, its
legend entries and, for rasters, the value QGIS reads at the centre of the largest polygon.
"""

import argparse
import json
import sys

from qgis.core import (
    QgsApplication,
    QgsLayerTreeLayer,
    QgsMapRendererParallelJob,
    QgsMapSettings,
    QgsPointXY,
    QgsProject,
    QgsRasterLayer,
    QgsRectangle,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QSize, Qt
from qgis.PyQt.QtGui import QColor


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder")
    parser.add_argument("png")
    parser.add_argument("--scene", help="the mapped scene, drawn beneath the outputs")
    parser.add_argument("--size", type=int, default=900)
    parser.add_argument("--order", choices=("analyst", "browser", "project"), default="analyst")
    args = parser.parse_args()
    app = QgsApplication([], False)
    app.initQgis()
    report: dict = {"layers": {}}
    if args.order == "project":
        project = QgsProject.instance()
        if not project.read(f"{args.folder}/map.qgs"):
            raise SystemExit(f"{args.folder}/map.qgs: QGIS cannot read it ({project.error()})")
        root = project.layerTreeRoot()
        layers = [layer for layer in root.layerOrder() if root.findLayer(layer.id()).isVisible()]
        named = {layer.name(): layer for layer in layers}
        inventory, rasters = named["inventory"], [named["probability"], named["landslides"]]
        report["project_crs"] = project.crs().authid()
    else:
        inventory = QgsVectorLayer(f"{args.folder}/inventory.gpkg|layername=inventory", "inventory", "ogr")
        rasters = [QgsRasterLayer(f"{args.folder}/{name}.tif", name) for name in ("probability", "landslides")]
        scene = [QgsRasterLayer(args.scene, "scene")] if args.scene else []
        layers = [inventory, *reversed(rasters), *scene]  # top first: polygons, landslides, probability, scene
        if args.order == "browser":
            layers = [*rasters, inventory, *scene]  # each file added on top of the one before
    centre = None
    if inventory.isValid() and inventory.featureCount():
        largest = max(inventory.getFeatures(), key=lambda f: f.geometry().area())
        centre = largest.geometry().pointOnSurface().asPoint()
    for layer in layers:
        entry = {"valid": layer.isValid()}
        renderer = layer.renderer() if layer.isValid() else None
        entry["renderer"] = renderer.type() if renderer is not None else None
        if layer.isValid():
            nodes = layer.legend().createLayerTreeModelLegendNodes(QgsLayerTreeLayer(layer))
            entry["legend"] = [str(node.data(Qt.DisplayRole)) for node in nodes]
        if isinstance(layer, QgsRasterLayer) and centre is not None and layer.isValid():
            value, ok = layer.dataProvider().sample(QgsPointXY(centre), 1)
            entry["value_at_largest_polygon"] = value if ok else None
        report["layers"][layer.name()] = entry
        if args.order != "project":
            QgsProject.instance().addMapLayer(layer, False)
    settings = QgsMapSettings()
    settings.setLayers([layer for layer in layers if layer.isValid()])
    reference = next(layer for layer in (rasters[1], inventory, *layers) if layer.isValid())
    extent = QgsRectangle(reference.extent())
    extent.scale(1.05)
    settings.setDestinationCrs(reference.crs())
    settings.setExtent(extent)
    settings.setOutputSize(QSize(args.size, round(args.size * extent.height() / max(extent.width(), 1e-9))))
    settings.setBackgroundColor(QColor(255, 255, 255))
    job = QgsMapRendererParallelJob(settings)
    job.start()
    job.waitForFinished()
    report["saved"] = job.renderedImage().save(args.png)
    print(json.dumps(report))
    app.exitQgis()
    return 0


if __name__ == "__main__":
    sys.exit(main())
