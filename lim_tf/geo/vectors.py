"""Vector inventories in and out, reprojection and geodesic areas (shared by data/ and mapping/)."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pyogrio.raw
import rasterio
import shapely
from pyproj import Geod, Transformer

from lim_tf.errors import InputError

GEOD = Geod(ellps="WGS84")


def reproject(geometries: Any, source: Any, target: Any) -> np.ndarray:
    """Geometries reprojected from one CRS to another in one vectorised pass."""
    transformer = Transformer.from_crs(source, target, always_xy=True)
    return shapely.transform(np.asarray(geometries, dtype=object),
                             lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1])))


def to_lonlat(geometries: Any, crs: Any) -> np.ndarray:
    """Geometries in WGS84 longitude and latitude."""
    return reproject(geometries, crs, "EPSG:4326")


def geodesic_area_perimeter(polygons: list[shapely.Polygon], crs: Any) -> tuple[np.ndarray, np.ndarray]:
    """Areas (m²) and perimeters (m) on the WGS84 ellipsoid, right for projected and geographic CRSs."""
    if crs is None:  # the scene has no CRS: pixel units
        return np.array([p.area for p in polygons]), np.array([p.length for p in polygons])
    measured = [GEOD.geometry_area_perimeter(p) for p in to_lonlat(polygons, crs)]
    return np.array([abs(a) for a, _ in measured]), np.array([length for _, length in measured])


def write_vector(features: list[dict[str, Any]], path: Path, crs: Any, driver: str) -> None:
    """Write polygons with their attributes (GeoJSON is written in WGS84, as RFC 7946 asks)."""
    geometries = [f["geometry"] for f in features]
    target_crs = crs
    if driver == "GeoJSON" and crs is not None:
        geometries = list(to_lonlat(geometries, crs)) if geometries else []
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
