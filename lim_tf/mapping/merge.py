"""The region layer: scene inventories merged into one (one polygon per landslide across scene seams
and overlaps, in one CRS) and VRT mosaics of the scenes' rasters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyogrio.raw
import rasterio
import shapely
from rasterio.crs import CRS

from lim_tf.geo.vectors import geodesic_area_perimeter, reproject, to_lonlat
from lim_tf.mapping.mosaic import write_mosaic
from lim_tf.mapping.project import write_project
from lim_tf.mapping.styles import write_raster_styles
from lim_tf.mapping.writers import write_inventory

WEIGHTED = ("mean_probability", "model_agreement", "mean_slope", "mean_uncertainty")  # area-weighted over the merged parts
HIGHEST = ("max_probability", "low_slope", "confidence")  # a landslide seen surely in one scene is sure


def region_crs(scene_folders: list[tuple[str, Path]], asked: str | None) -> CRS:
    """The asked CRS; else the scenes' own when they all share one; else WGS84."""
    if asked:
        return CRS.from_user_input(asked)
    found = set()
    for _, folder in scene_folders:
        with rasterio.open(folder / "landslides.tif") as src:
            found.add(src.crs.to_wkt() if src.crs else None)
    return CRS.from_wkt(found.pop()) if len(found) == 1 and None not in found else CRS.from_epsg(4326)


def write_region(scene_folders: list[tuple[str, Path]], folder: Path, asked_crs: str | None,
                 imagery: list[str] | None = None, cut: float | None = None,
                 vectors: tuple[str, ...] = ("gpkg",)) -> dict[str, Any]:
    """inventory.gpkg, probability.vrt, landslides.vrt (and, with --uncertainty, uncertainty.vrt) of
    the region into `folder`, and map.qgs over the scenes' `imagery`; returns its summary. With a
    confidence `cut`, the scenes' inventories and candidates are merged together and split again at
    it (a polygon takes the highest confidence of its parts)."""
    if not scene_folders:
        return {"landslides": 0, "total_area_m2": 0.0, "crs": None}
    crs = region_crs(scene_folders, asked_crs)
    layers = ("inventory", "candidates") if cut is not None else ("inventory",)
    merged = merge_inventories(scene_folders, crs, layers)
    features = [f for f in merged if cut is None or f.get("confidence", 1.0) >= cut]
    candidates = [f for f in merged if f.get("confidence", 1.0) < cut] if cut is not None else None
    write_inventory(vectors, _ordered(features), _ordered(candidates) if candidates is not None else None, folder,
                    crs.to_wkt())
    names = ["probability", "landslides"]
    if all((f / "uncertainty.tif").exists() for _, f in scene_folders):  # map --uncertainty
        names.append("uncertainty")
    for name in names:
        write_mosaic([f / f"{name}.tif" for _, f in scene_folders], folder / f"{name}.vrt", crs,
                     "nearest" if name == "landslides" else "average")
    write_raster_styles(folder)
    with rasterio.open(folder / "landslides.vrt") as mosaic:
        write_project(folder, crs.to_wkt(), tuple(mosaic.bounds), imagery or [], suffix=".vrt",
                      candidates=cut is not None)
    return {"crs": crs.to_string(), "landslides": len(features),
            "total_area_m2": float(sum(f["area_m2"] for f in features)),
            "largest_area_m2": float(max((f["area_m2"] for f in features), default=0.0))}


def merge_inventories(scene_folders: list[tuple[str, Path]], crs: CRS,
                      layers: tuple[str, ...] = ("inventory",)) -> list[dict[str, Any]]:
    """Every scene's polygons (of `layers`) in `crs`; polygons of different scenes that overlap or
    touch become one, with area, perimeter and centroid recomputed and the scenes that saw it listed."""
    polygons, rows = [], []
    for (name, scene_folder), layer in ((scene, layer) for scene in scene_folders for layer in layers):
        meta, _, geometry, fields = pyogrio.raw.read(scene_folder / "inventory.gpkg", layer=layer)
        shapes = list(shapely.from_wkb(geometry)) if len(geometry) else []
        source = CRS.from_user_input(meta["crs"]) if meta.get("crs") else None
        if shapes and source is not None and source != crs:
            shapes = list(reproject(shapes, source, crs))
        columns = list(meta["fields"])
        for index, shape in enumerate(shapes):
            polygons.append(shape)
            rows.append({"scene": name, **{c: float(fields[columns.index(c)][index]) for c in columns
                                           if c not in ("id", "review")}})
    groups = _touching_groups(polygons, [str(row["scene"]) for row in rows], crs)
    merged = [_merge(group, polygons, rows) for group in groups]
    if not merged:
        return []
    areas, perimeters = geodesic_area_perimeter([m["geometry"] for m in merged], crs)
    centroids = to_lonlat(shapely.centroid(np.asarray([m["geometry"] for m in merged], dtype=object)), crs)
    for feature, area, perimeter, centre in zip(merged, areas, perimeters, centroids):
        feature.update(area_m2=float(area), perimeter_m=float(perimeter), centroid_lon=float(centre.x),
                       centroid_lat=float(centre.y))
    merged.sort(key=lambda f: -f["area_m2"])
    return [{"id": number, **feature} for number, feature in enumerate(merged, start=1)]


def _touching_groups(polygons: list, scenes: list[str], crs: CRS) -> list[list[int]]:
    """Connected groups of polygons from different scenes that overlap or touch. Scene edges meet
    along pixel edges, but reprojection moves them a little, so 'touch' allows a tiny gap."""
    parent = list(range(len(polygons)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    tolerance = 1e-7 if crs.is_geographic else 1e-2  # about a centimetre either way
    # Every close pair in one query: a polygon at a time took minutes on speckled maps.
    shapes = np.array(polygons, dtype=object)
    near, other = shapely.STRtree(shapes).query(shapes, predicate="dwithin", distance=tolerance)
    names = np.asarray(scenes)
    keep = (other > near) & (names[near] != names[other])
    for i, j in zip(near[keep].tolist(), other[keep].tolist()):
        parent[root(j)] = root(i)
    groups: dict[int, list[int]] = {}
    for i in range(len(polygons)):
        groups.setdefault(root(i), []).append(i)
    return list(groups.values())


def _merge(group: list[int], polygons: list, rows: list[dict]) -> dict[str, Any]:
    """One feature from a group: the union of the parts; weighted and highest attributes."""
    geometry = shapely.unary_union([polygons[i] for i in group]) if len(group) > 1 else polygons[group[0]]
    weights = np.array([rows[i].get("area_m2", 0.0) for i in group]) + 1e-12
    feature: dict[str, Any] = {"geometry": geometry,
                               "scenes": ",".join(sorted({rows[i]["scene"] for i in group}))}
    for key in WEIGHTED:
        if all(key in rows[i] for i in group):
            feature[key] = float(np.average([rows[i][key] for i in group], weights=weights))
    for key in HIGHEST:
        if all(key in rows[i] for i in group):
            feature[key] = float(max(rows[i][key] for i in group))
    return feature


def _ordered(features: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The region's columns in a fixed order, with the analyst's empty review column last."""
    names = ["id", "geometry", "area_m2", "perimeter_m", "centroid_lon", "centroid_lat", "scenes"]
    names += [k for k in WEIGHTED + HIGHEST if features and all(k in f for f in features)]
    return [{**{n: f[n] for n in names}, "review": None} for f in features]
