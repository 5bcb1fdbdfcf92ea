"""The landslide inventory: polygons from the binary map, their attributes, and a check against a
reference inventory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import rasterio
import shapely
from rasterio.features import rasterize, shapes
from rasterio.windows import Window

from lim_tf.geo.vectors import geodesic_area_perimeter, to_lonlat
from lim_tf.mapping.config import PolygonOptions
from lim_tf.trained.confidence import ConfidenceModel
from lim_tf.trained.confidence import features as confidence_features

STRIP = 1024  # rows vectorised at a time; polygons cut by a strip edge are merged afterwards


def vectorize(mask_path: Path, at: float | None = None) -> list[shapely.Polygon]:
    """Polygons of landslide pixels (value 1), read strip by strip so memory stays bounded; with
    `at`, `mask_path` is the probability raster and its pixels from `at` up are landslide pixels."""
    whole: list[shapely.Polygon] = []
    pending: list[shapely.Polygon] = []
    with rasterio.open(mask_path) as src:
        for top in range(0, src.height, STRIP):
            window = Window(0, top, src.width, min(STRIP, src.height - top))
            data = src.read(1, window=window)
            if at is not None:
                data = ((data >= at) & (data != src.nodata)).astype(np.uint8)
            transform = src.window_transform(window)
            edges = {transform.f, (transform * (0, window.height))[1]}  # y of the strip's top and bottom
            for geometry, _ in shapes(data, mask=data == 1, transform=transform):
                polygon = shapely.geometry.shape(geometry)
                _, miny, _, maxy = polygon.bounds
                (pending if miny in edges or maxy in edges else whole).append(polygon)
    if pending:
        merged = shapely.unary_union(pending)
        whole.extend(getattr(merged, "geoms", [merged]))
    return whole


def grouped(parts: list[shapely.Polygon], groups: list[shapely.Polygon]) -> list[shapely.Geometry]:
    """Per group (a polygon of the probability at the grouping level): the parts (polygons at the
    threshold) inside it as one geometry, or the group itself where it holds none. Pixel-edge
    polygons of a higher level lie inside those of a lower one, so a part belongs to the group that
    holds any point of it (lim_tf.polygons.grouped_pixels, on a scene)."""
    inside: list[list[shapely.Polygon]] = [[] for _ in groups]
    if parts and groups:
        points = shapely.point_on_surface(np.asarray(parts, dtype=object))
        part_index, group_index = shapely.STRtree(groups).query(points, predicate="within")
        for part, group in zip(part_index, group_index):
            inside[group].append(parts[part])
    return [shapely.union_all(found) if len(found) > 1 else found[0] if found else group
            for group, found in zip(groups, inside)]


def clean(polygons: list[shapely.Geometry], options: PolygonOptions) -> list[shapely.Geometry]:
    """Fill holes and simplify as asked (each part of a grouped polygon on its own)."""
    out = []
    for polygon in polygons:
        if options.fill_holes:
            polygon = shapely.union_all([shapely.Polygon(p.exterior) for p in getattr(polygon, "geoms", [polygon])])
        if options.simplify:
            polygon = polygon.simplify(options.simplify, preserve_topology=True)
        if not polygon.is_empty:
            out.append(polygon)
    return out


def burn(polygons: list[shapely.Polygon], mask_path: Path, target: Path) -> None:
    """`target`: the landslide raster that the inventory's polygons make (1 inside, by pixel centre,
    0 outside, nodata kept), so the map agrees with the polygons after --min-area, --fill-holes and
    --simplify. Written strip by strip, with the source's profile (landslides.tif is styled from it)."""
    tree = shapely.STRtree(polygons) if polygons else None
    with rasterio.open(mask_path) as src, rasterio.open(target, "w", **src.profile) as dst:
        dst.set_band_description(1, src.descriptions[0] or "")
        for top in range(0, src.height, STRIP):
            window = Window(0, top, src.width, min(STRIP, src.height - top))
            shape = (int(window.height), src.width)
            hits = tree.query(shapely.box(*rasterio.windows.bounds(window, src.transform))) if tree else []
            inside = rasterize(((polygons[i], 1) for i in hits), out_shape=shape,
                               transform=src.window_transform(window), fill=0, dtype="uint8") if len(hits) \
                else np.zeros(shape, np.uint8)
            raw = src.read(1, window=window)
            dst.write(np.where(raw == src.nodata, raw, inside), 1, window=window)


def describe(polygons: list[shapely.Geometry], probability: Path, agreement: Path | None, crs: Any,
             min_area: float, uncertainty: Path | None = None,
             extra: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """Attributes per polygon: id, area, perimeter, mean/max probability, centroid, agreement, and
    `extra`'s (one dict per polygon, e.g. a confidence rated on its group).

    Zonal statistics come from one pass over the rasters in strips (polygon ids rasterised by pixel
    centre, which for pixel-edge polygons is exactly their pixels), so thousands of polygons stay cheap.
    """
    areas, perimeters = geodesic_area_perimeter(polygons, crs)
    keep = np.flatnonzero(areas >= min_area)
    polygons = [polygons[i] for i in keep]
    extra = [extra[i] for i in keep] if extra is not None else None
    areas, perimeters = areas[keep], perimeters[keep]
    if not polygons:
        return []
    total, count, peak = _zonal(polygons, probability)
    shares = _zonal(polygons, agreement)[0] / np.maximum(count, 1) / 100 if agreement else None
    spread = _zonal(polygons, uncertainty)[0] / np.maximum(count, 1) if uncertainty else None
    centroids = shapely.centroid(np.asarray(polygons, dtype=object))
    if crs is not None:
        centroids = to_lonlat(centroids, crs)
    order = np.argsort(-areas, kind="stable")  # id 1 is the largest landslide
    features = []
    for number, i in enumerate(order, start=1):
        feature = {"id": number, "geometry": polygons[i], "area_m2": float(areas[i]),
                   "perimeter_m": float(perimeters[i]), "mean_probability": float(total[i] / max(count[i], 1)),
                   "max_probability": float(peak[i]), "centroid_lon": float(centroids[i].x),
                   "centroid_lat": float(centroids[i].y)}
        if shares is not None:
            feature["model_agreement"] = float(shares[i])
        if spread is not None:  # review the least sure polygons first
            feature["mean_uncertainty"] = float(spread[i])
        features.append({**feature, **(extra[i] if extra is not None else {})})
    return features


def rate(features: list[dict[str, Any]], model: ConfidenceModel | None) -> tuple[list[dict], list[dict]]:
    """Each polygon's `confidence` (the chance it is a real landslide; one rated on its group keeps
    that), and the polygons split at the model's cut: (the inventory, the candidates below it).
    Without a model every polygon is kept."""
    if model is None or not features:
        return features, []
    unrated = [f for f in features if "confidence" not in f]
    if unrated:
        values = confidence_features([f["area_m2"] for f in unrated], [f["perimeter_m"] for f in unrated],
                                     [f["mean_probability"] for f in unrated], [f["max_probability"] for f in unrated])
        for feature, confidence in zip(unrated, model.predict(values)):
            feature["confidence"] = round(float(confidence), 4)
    return [f for f in features if f["confidence"] >= model.cut], [f for f in features if f["confidence"] < model.cut]


def group_confidence(groups: list[shapely.Polygon], probability: Path, crs: Any, model: ConfidenceModel) -> np.ndarray:
    """Each group's confidence, from the group's own area, perimeter and probabilities: what the
    model learnt from (lim_tf.polygons.chip_polygons)."""
    if not groups:
        return np.zeros(0)
    areas, perimeters = geodesic_area_perimeter(groups, crs)
    total, count, peak = _zonal(groups, probability)
    return model.predict(confidence_features(areas, perimeters, total / np.maximum(count, 1), peak))


def _zonal(polygons: list[shapely.Polygon], raster: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per polygon: sum, count and maximum of the raster's valid pixels inside it."""
    n = len(polygons)
    total, count, peak = np.zeros(n), np.zeros(n, np.int64), np.full(n, -np.inf)
    tree = shapely.STRtree(polygons)
    with rasterio.open(raster) as src:
        for top in range(0, src.height, STRIP):
            window = Window(0, top, src.width, min(STRIP, src.height - top))
            hits = tree.query(shapely.box(*rasterio.windows.bounds(window, src.transform)))
            if not len(hits):
                continue
            labels = rasterize(((polygons[i], i + 1) for i in hits), out_shape=(int(window.height), src.width),
                               transform=src.window_transform(window), fill=0, dtype="int32")
            values = src.read(1, window=window).astype(np.float64)
            inside = (labels > 0) & (values != src.nodata)
            index, picked = labels[inside] - 1, values[inside]
            total += np.bincount(index, weights=picked, minlength=n)
            count += np.bincount(index, minlength=n)
            np.maximum.at(peak, index, picked)
    return total, count, np.where(np.isfinite(peak), peak, 0.0)


def check_against(reference: list[shapely.Geometry], predicted: list[shapely.Polygon]) -> dict[str, Any]:
    """Detected share of reference landslides (points inside or polygons overlapping a prediction)
    and the false-alarm share of predicted polygons that meet none."""
    tree = shapely.STRtree(predicted) if predicted else None
    detected = sum(1 for g in reference if tree is not None and len(tree.query(g, predicate="intersects")))
    reference_tree = shapely.STRtree(reference) if reference else None
    false_alarms = sum(1 for p in predicted if reference_tree is None
                       or not len(reference_tree.query(p, predicate="intersects")))
    kinds = sorted({g.geom_type for g in reference})
    return {"reference_features": len(reference), "reference_types": kinds, "detected": detected,
            "detected_share": detected / len(reference) if reference else 1.0,
            "predicted_polygons": len(predicted), "false_alarms": false_alarms,
            "false_alarm_share": false_alarms / len(predicted) if predicted else 0.0,
            "polygon_precision": 1 - false_alarms / len(predicted) if predicted else 1.0,
            "rule": "touch: a reference landslide is detected when an inventory polygon intersects it (a point "
                    "inside, a polygon overlapping or touching); an inventory polygon is real when it intersects "
                    "a reference landslide"}
