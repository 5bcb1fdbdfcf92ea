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
from pyproj import Geod
from rasterio.features import geometry_mask, shapes
from rasterio.warp import transform_geom
from rasterio.windows import Window, from_bounds

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


def geodesic_area_perimeter(polygon: shapely.Polygon, crs: Any) -> tuple[float, float]:
    """Area (m²) and perimeter (m) on the WGS84 ellipsoid, right for projected and geographic CRSs."""
    if crs is None:
        return polygon.area, polygon.length  # pixel units: the scene has no CRS
    lonlat = shapely.geometry.shape(transform_geom(crs, "EPSG:4326", shapely.geometry.mapping(polygon)))
    area, perimeter = GEOD.geometry_area_perimeter(lonlat)
    return abs(area), perimeter


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
    """Attributes per polygon: id, area, perimeter, mean/max probability, centroid, agreement."""
    features = []
    with rasterio.open(probability) as prob, (rasterio.open(agreement) if agreement else _Null()) as agree:
        for polygon in polygons:
            area, perimeter = geodesic_area_perimeter(polygon, crs)
            if area < min_area:
                continue
            window = from_bounds(*polygon.bounds, transform=prob.transform).round_offsets().round_lengths()
            values = prob.read(1, window=window, boundless=True, fill_value=-1)
            inside = ~geometry_mask([polygon], values.shape, prob.window_transform(window), all_touched=False)
            inside &= values >= 0
            picked = values[inside] if inside.any() else np.array([0.0])
            centroid = polygon.centroid
            lon, lat = (transform_geom(crs, "EPSG:4326", shapely.geometry.mapping(centroid))["coordinates"]
                        if crs is not None else (centroid.x, centroid.y))
            feature = {"geometry": polygon, "area_m2": area, "perimeter_m": perimeter,
                       "mean_probability": float(picked.mean()), "max_probability": float(picked.max()),
                       "centroid_lon": float(lon), "centroid_lat": float(lat)}
            if agreement:
                shares = agree.read(1, window=window, boundless=True, fill_value=255)[inside]
                feature["model_agreement"] = float(shares.mean() / 100) if len(shares) else 0.0
            features.append(feature)
    for number, feature in enumerate(sorted(features, key=lambda f: -f["area_m2"]), start=1):
        feature["id"] = number
    return sorted(features, key=lambda f: f["id"])


class _Null:
    def __enter__(self):
        return None

    def __exit__(self, *args):
        return False


def write_vector(features: list[dict[str, Any]], path: Path, crs: Any, driver: str) -> None:
    """Write polygons with their attributes (GeoJSON is written in WGS84, as RFC 7946 asks)."""
    geometries = [f["geometry"] for f in features]
    target_crs = crs
    if driver == "GeoJSON" and crs is not None:
        geometries = [shapely.geometry.shape(transform_geom(crs, "EPSG:4326", shapely.geometry.mapping(g)))
                      for g in geometries]
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
        shapes_ = [shapely.geometry.shape(transform_geom(source, crs, shapely.geometry.mapping(g))) for g in shapes_]
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
