"""inventory.fgb: the inventory layer as FlatGeobuf (one layer, spatially indexed: quick to stream
from a web server or object store; QGIS 3.22 and GDAL 3.6 read it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lim_tf.geo.vectors import write_vector

NAME = "inventory.fgb"


def write(inventory: list[dict[str, Any]], candidates: list[dict[str, Any]] | None, folder: Path, crs: Any) -> Path:
    multi = any(f["geometry"].geom_type == "MultiPolygon" for f in inventory)
    write_vector(inventory, folder / NAME, crs, "FlatGeobuf", multi=multi)
    return folder / NAME
