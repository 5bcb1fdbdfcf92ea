"""The landslide inventory: polygons from the binary map, their attributes, and vector output."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio.raw
import rasterio
import shapely
from pyproj import Geod, Transformer
from rasterio.features import rasterize, shapes
from rasterio.windows import Window

from lim_tf.errors import InputError

GEOD = Geod(ellps="WGS84")
STRIP = 1024  # rows vectorised at a time; polygons cut by a strip edge are merged afterwards


@dataclass(frozen=True)
class PolygonOptions:
    """Clean-up of the inventory polygons."""

    min_area: float = 0.0  # m²; smaller polygons are dropped
    fill_holes: bool = False
    simplify: float = 0.0  # tolerance in the scene's CRS units (0: keep pixel outlines)


def vectorize(mask_path: Path) -> list[shapely.Polygon]:
    """Polygons of landslide pixels (value 1), read strip by strip so memory stays bounded."""
    whole, pending = [], []
    with rasterio.open(mask_path) as src:
        for top in range(0, src.height, STRIP):
            window = Window(0, top, src.width, min(STRIP, src.height - top))
            data = src.read(1, window=window)
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


def reproject(geometries: Any, source: Any, target: Any) -> np.ndarray:
    """Geometries reprojected from one CRS to another in one vectorised pass."""
    transformer = Transformer.from_crs(source, target, always_xy=True)
    return shapely.transform(np.asarray(geometries, dtype=object),
                             lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1])))


def _to_lonlat(geometries: Any, crs: Any) -> np.ndarray:
    return reproject(geometries, crs, "EPSG:4326")


def geodesic_area_perimeter(polygons: list[shapely.Polygon], crs: Any) -> tuple[np.ndarray, np.ndarray]:
    """Areas (m²) and perimeters (m) on the WGS84 ellipsoid, right for projected and geographic CRSs."""
    if crs is None:  # the scene has no CRS: pixel units
        return np.array([p.area for p in polygons]), np.array([p.length for p in polygons])
    measured = [GEOD.geometry_area_perimeter(p) for p in _to_lonlat(polygons, crs)]
    return np.array([abs(a) for a, _ in measured]), np.array([length for _, length in measured])


def clean(polygons: list[shapely.Polygon], options: PolygonOptions) -> list[shapely.Polygon]:
    """Fill holes and simplify as asked."""
    out = []
    for polygon in polygons:
        if options.fill_holes:
            polygon = shapely.Polygon(polygon.exterior)
        if options.simplify:
            polygon = polygon.simplify(options.simplify, preserve_topology=True)
        if not polygon.is_empty:
            out.append(polygon)
    return out


def describe(polygons: list[shapely.Polygon], probability: Path, agreement: Path | None, crs: Any,
             min_area: float) -> list[dict[str, Any]]:
    """Attributes per polygon: id, area, perimeter, mean/max probability, centroid, agreement.

    Zonal statistics come from one pass over the rasters in strips (polygon ids rasterised by pixel
    centre, which for pixel-edge polygons is exactly their pixels), so thousands of polygons stay cheap.
    """
    areas, perimeters = geodesic_area_perimeter(polygons, crs)
    keep = np.flatnonzero(areas >= min_area)
    polygons = [polygons[i] for i in keep]
    areas, perimeters = areas[keep], perimeters[keep]
    if not polygons:
        return []
    total, count, peak = _zonal(polygons, probability)
    shares = _zonal(polygons, agreement)[0] / np.maximum(count, 1) / 100 if agreement else None
    centroids = shapely.centroid(np.asarray(polygons, dtype=object))
    if crs is not None:
        centroids = _to_lonlat(centroids, crs)
    order = np.argsort(-areas, kind="stable")  # id 1 is the largest landslide
    features = []
    for number, i in enumerate(order, start=1):
        feature = {"id": number, "geometry": polygons[i], "area_m2": float(areas[i]),
                   "perimeter_m": float(perimeters[i]), "mean_probability": float(total[i] / max(count[i], 1)),
                   "max_probability": float(peak[i]), "centroid_lon": float(centroids[i].x),
                   "centroid_lat": float(centroids[i].y)}
        if shares is not None:
            feature["model_agreement"] = float(shares[i])
        features.append(feature)
    return features


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


def write_vector(features: list[dict[str, Any]], path: Path, crs: Any, driver: str) -> None:
    """Write polygons with their attributes (GeoJSON is written in WGS84, as RFC 7946 asks)."""
    geometries = [f["geometry"] for f in features]
    target_crs = crs
    if driver == "GeoJSON" and crs is not None:
        geometries = list(_to_lonlat(geometries, crs)) if geometries else []
        target_crs = "EPSG:4326"
    names = ["id"] + [k for k in (features[0] if features else {"area_m2": 0}) if k not in ("geometry", "id")]
    columns = [np.array([f[n] for f in features], dtype=np.int64 if n == "id" else np.float64) for n in names]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # no CRS: the caller has warned already
        pyogrio.raw.write(path, shapely.to_wkb(geometries) if geometries else np.array([], dtype=object), columns,
                          names, driver=driver, geometry_type="Polygon", crs=str(target_crs) if target_crs else None,
                          promote_to_multi=False)


def read_inventory(path: Path, crs: Any) -> list[shapely.Geometry]:
    """Points or polygons of a reference inventory, in the scene's CRS."""
    try:
        meta, _, geometry, _ = pyogrio.raw.read(path)
    except Exception as error:  # GDAL errors come in several types
        raise InputError(f"{path}: cannot read the inventory ({str(error)[:120]})") from error
    shapes_ = [g for g in shapely.from_wkb(geometry) if g is not None and not g.is_empty]
    source = meta.get("crs")
    if source and crs is not None and rasterio.crs.CRS.from_user_input(source) != crs:
        shapes_ = list(reproject(shapes_, source, crs))
    return shapes_


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
            "false_alarm_share": false_alarms / len(predicted) if predicted else 0.0}
