"""inventory.geojson: the inventory layer in WGS84, as RFC 7946 asks (one layer: no candidates)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lim_tf.geo.vectors import write_vector

NAME = "inventory.geojson"


def write(inventory: list[dict[str, Any]], candidates: list[dict[str, Any]] | None, folder: Path, crs: Any) -> Path:
    multi = any(f["geometry"].geom_type == "MultiPolygon" for f in inventory)
    write_vector(inventory, folder / NAME, crs, "GeoJSON", multi=multi)
    return folder / NAME
