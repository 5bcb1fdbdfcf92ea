"""An analyst's review of a map as labels: the `review` column of an edited inventory.gpkg.

`lim-tf map` writes every polygon with an empty review; in QGIS the analyst sets `confirmed` on real
landslides, `rejected` on false alarms (or deletes them, inside the reviewed area) and draws missed
landslides with `confirmed`. Rejected polygons are the best hard negatives there are: ground that
looked like a landslide to the model. Only the reviewed area counts as labelled; the rest is ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyogrio.raw
import rasterio
import shapely

from lim_tf.data.sample import BACKGROUND, IGNORE, LANDSLIDE
from lim_tf.errors import InputError
from lim_tf.geo.vectors import read_inventory, reproject, spatial_layer

REVIEW_VALUES = ("confirmed", "rejected")


@dataclass(frozen=True)
class ReviewedLabels:
    """(geometry, class) pairs in burning order, later ones on top: labelled area as background, then
    rejected as background, unreviewed as ignore, confirmed as landslide."""

    shapes: list[tuple[Any, int]]
    confirmed: int
    rejected: int
    unreviewed: int


def _reviewed_layers(path: Path, crs: Any) -> list[tuple[Any, Any]]:
    """(shape in `crs`, review value) of every polygon layer: the inventory, and the candidates below
    the confidence cut that lim-tf map keeps beside it (an analyst may confirm those too)."""
    try:
        layers = [name for name, kind in pyogrio.list_layers(path) if kind is not None] or [spatial_layer(path)]
        read = [pyogrio.raw.read(path, layer=layer) for layer in layers]
    except Exception as error:  # GDAL errors come in several types
        raise InputError(f"{path}: cannot read the inventory ({str(error)[:120]})") from error
    pairs = []
    for meta, _, geometry, fields in read:
        columns = list(meta["fields"])
        if "review" not in columns:
            raise InputError(f"{path}: no 'review' column; review the inventory.gpkg that lim-tf map wrote (it has "
                             "one), or add a text column 'review'")
        shapes = list(shapely.from_wkb(geometry)) if len(geometry) else []
        source = meta.get("crs")
        if shapes and source and crs is not None and rasterio.crs.CRS.from_user_input(source) != crs:
            shapes = list(reproject(shapes, source, crs))
        pairs += list(zip(shapes, fields[columns.index("review")]))
    return pairs


def read_reviewed(path: Path, crs: Any, margin: float, labelled_area: Path | None = None) -> ReviewedLabels:
    """The reviewed labels of an edited inventory, in the scene's CRS; `margin` (CRS units, metres in
    a projected CRS) buffers the reviewed polygons into the labelled area unless one is given."""
    groups: dict[str, list] = {"confirmed": [], "rejected": [], "": []}
    for shape, value in _reviewed_layers(path, crs):
        text = (value or "").strip().lower() if isinstance(value, str) or value is None else str(value)
        if text not in groups:
            raise InputError(f"{path}: review value {value!r} is not one of {', '.join(REVIEW_VALUES)} (or empty); "
                             "fix it in the attribute table")
        if shape is not None and not shape.is_empty:
            groups[text].append(shape)
    reviewed = groups["confirmed"] + groups["rejected"]
    if not reviewed:
        raise InputError(f"{path}: no polygon is marked confirmed or rejected in its review column; review some first")
    if labelled_area is not None:
        area = shapely.unary_union(read_inventory(labelled_area, crs))
    else:
        area = shapely.unary_union([shape.buffer(margin) for shape in reviewed])
    shapes_in_order = ([(area, BACKGROUND)] + [(s, BACKGROUND) for s in groups["rejected"]]
                       + [(s, IGNORE) for s in groups[""]] + [(s, LANDSLIDE) for s in groups["confirmed"]])
    return ReviewedLabels(shapes_in_order, len(groups["confirmed"]), len(groups["rejected"]), len(groups[""]))
