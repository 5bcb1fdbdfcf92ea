"""inventory.gpkg: the inventory layer, the candidates layer below the confidence cut, and the
default style of each in the GeoPackage's layer_styles table (QGIS applies them on open)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lim_tf.geo.vectors import write_vector
from lim_tf.mapping.styles import add_default_style

NAME = "inventory.gpkg"


def write(inventory: list[dict[str, Any]], candidates: list[dict[str, Any]] | None, folder: Path, crs: Any) -> Path:
    target = folder / NAME
    multi = any(f["geometry"].geom_type == "MultiPolygon" for f in inventory + (candidates or []))
    write_vector(inventory, target, crs, "GPKG", multi=multi, layer="inventory")
    add_default_style(target, "inventory")
    if candidates is not None:  # below the cut: kept for review, never dropped silently
        write_vector(candidates, target, crs, "GPKG", multi=multi, layer="candidates")
        add_default_style(target, "candidates")
    return target
