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

from lim_tf.errors import ConfigError, InputError

GEOD = Geod(ellps="WGS84")


def check_crs(text: str, option: str) -> rasterio.crs.CRS:
    """The CRS an option names, or a one-line error naming the option (before any work is done)."""
    try:
        with rasterio.Env():  # GDAL's own error line goes to rasterio's handler, not to stderr
            return rasterio.crs.CRS.from_user_input(text)
    except (rasterio.errors.CRSError, ValueError, TypeError) as error:
        raise ConfigError(f"{option} {text!r}: not a CRS GDAL knows ({str(error).splitlines()[0][:100]}); give "
                          "an EPSG code such as EPSG:4326 or EPSG:32648") from error


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


GPKG_VERSION = "1.2"  # what GDAL 3.6 and QGIS 3.22 read without a "partially supported" warning


def write_vector(features: list[dict[str, Any]], path: Path, crs: Any, driver: str, multi: bool = False,
                 layer: str | None = None) -> None:
    """Write polygons with their attributes: `id` as an integer, text values as text, the rest as
    numbers (a column of None is text: the empty `review` column). GeoJSON is written in WGS84, as
    RFC 7946 asks; a GeoPackage as version 1.2, `layer` added beside those it holds."""
    geometries = [f["geometry"] for f in features]
    target_crs = crs
    if driver == "GeoJSON" and crs is not None:
        geometries = list(to_lonlat(geometries, crs)) if geometries else []
        target_crs = "EPSG:4326"
    names = ["id"] + [k for k in (features[0] if features else {"area_m2": 0}) if k not in ("geometry", "id")]
    columns = [np.array([f[n] for f in features], dtype=_column_type(n, [f[n] for f in features])) for n in names]
    options = {"VERSION": GPKG_VERSION} if driver == "GPKG" else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # no CRS: the caller has warned already
        pyogrio.raw.write(path, shapely.to_wkb(geometries) if geometries else np.array([], dtype=object), columns,
                          names, driver=driver, geometry_type="MultiPolygon" if multi else "Polygon",
                          crs=str(target_crs) if target_crs else None, promote_to_multi=multi,
                          dataset_options=options if not (layer and Path(path).exists()) else None, layer=layer,
                          append=bool(layer and Path(path).exists()))


def _column_type(name: str, values: list[Any]) -> Any:
    if name == "id":
        return np.int64
    return object if all(v is None or isinstance(v, str) for v in values) and values else np.float64


def spatial_layer(path: Path) -> str | int:
    """The first layer with geometries: a GeoPackage may also hold attribute tables (QGIS's and
    lim-tf's layer_styles), which are not the inventory."""
    try:
        layers = pyogrio.list_layers(path)
    except Exception:  # noqa: BLE001 - the read that follows reports the file's problem
        return 0
    return next((str(name) for name, kind in layers if kind is not None), 0)


def read_inventory(path: Path, crs: Any) -> list[shapely.Geometry]:
    """Points or polygons of a reference inventory, in the scene's CRS."""
    try:
        meta, _, geometry, _ = pyogrio.raw.read(path, layer=spatial_layer(path))
    except Exception as error:  # GDAL errors come in several types
        raise InputError(f"{path}: cannot read the inventory ({str(error)[:120]})") from error
    shapes_ = [g for g in shapely.from_wkb(geometry) if g is not None and not g.is_empty]
    source = meta.get("crs")
    if source and crs is not None and rasterio.crs.CRS.from_user_input(source) != crs:
        shapes_ = list(reproject(shapes_, source, crs))
    return shapes_
