"""The inventory's files, one small module a format: each writes the polygons a map (or a region)
keeps, and the candidates under the confidence cut where the format holds layers. MapConfig.vectors
names the formats; a scene and the region layer are written by the same writers.

A new format is a module with `write(inventory, candidates, folder, crs) -> Path` and a line in
WRITERS (and its name in mapping.config.VectorFormat)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from lim_tf.mapping.writers import flatgeobuf, geojson, gpkg

Features = list[dict[str, Any]]
Writer = Callable[[Features, Features | None, Path, Any], Path]

# The one table of inventory formats (tests/test_writers.py checks it against config.VectorFormat).
WRITERS: dict[str, Writer] = {
    "gpkg": gpkg.write,
    "geojson": geojson.write,
    "fgb": flatgeobuf.write,
}


def write_inventory(formats: tuple[str, ...], inventory: Features, candidates: Features | None, folder: Path,
                    crs: Any) -> list[Path]:
    """Every asked format of the inventory into `folder`; candidates None: no confidence model split them."""
    return [WRITERS[name](inventory, candidates, folder, crs) for name in formats]
