"""Georeferenced scenes with a label raster (or vector inventory) on their grid, cut into chips."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import rasterio
import shapely
from rasterio.enums import Resampling
from rasterio.features import rasterize
from rasterio.windows import Window

from lim_tf.config import ChipConfig, SourceConfig
from lim_tf.data.images import DEFAULT_MASK_VALUES, default_band_names, map_mask_values, select_bands, valid_pixels
from lim_tf.data.review import read_reviewed
from lim_tf.data.sample import IGNORE, Sample
from lim_tf.errors import InputError
from lim_tf.geo.grid import ground_resolution, resampled_grid, warp
from lim_tf.geo.vectors import read_inventory
from lim_tf.geo.windows import grid_offsets

VECTOR_SUFFIXES = (".gpkg", ".geojson", ".json", ".shp")
LABEL_FOLDERS = ("labels", "masks")


def scene_pairs(path: Path, labels: str | None) -> list[tuple[Path, Path]]:
    """(scene, labels) pairs: one file with --labels, or images/ with labels/ (or masks/) by stem."""
    if path.is_file():
        if not labels:
            raise InputError(f"{path}: a single scene needs --labels (a label raster or a vector inventory)")
        return [(path, Path(labels))]
    if not path.is_dir():
        raise InputError(f"{path}: no such file or folder")
    label_dir = next((path / name for name in LABEL_FOLDERS if (path / name).is_dir()), None)
    scenes = sorted(p for p in (path / "images").glob("*") if p.suffix.lower() in (".tif", ".tiff"))
    if label_dir is None or not scenes:
        raise InputError(f"{path}: expected images/*.tif with labels/ (or masks/) beside it, "
                         "or pass a scene file with --labels")
    pairs = []
    for scene in scenes:
        label = label_dir / scene.name
        if not label.exists():
            raise InputError(f"{scene}: no label raster {label}; add it or remove the scene")
        pairs.append((scene, label))
    return pairs


def read_geotiff(path: Path, config: SourceConfig, chip: ChipConfig) -> Iterator[Sample]:
    """Chip-size samples cut on a grid from each scene; all-nodata chips are skipped.

    Outside resize mode a scene is first brought to `chip.resolution` metres (bilinear image,
    nearest labels), the grid `lim-tf map` predicts on."""
    for scene, labels in scene_pairs(path, config.labels):
        yield from read_scene(scene, labels, config, chip)


def _open(path: Path) -> rasterio.DatasetReader:
    try:
        return rasterio.open(path)
    except rasterio.errors.RasterioIOError as error:
        raise InputError(f"{path}: cannot open as a raster ({error})") from error


def read_scene(scene: Path, labels: Path, config: SourceConfig, chip: ChipConfig) -> Iterator[Sample]:
    """The chip-size samples of one scene and its labels."""
    with _open(scene) as original:
        resolution = config.resolution or ground_resolution(original)
        grid = resampled_grid(original, None if chip.mode == "resize" else chip.resolution, config.resolution)
        src = warp(original, grid, Resampling.bilinear)
        label_source = _LabelSource(labels, original, src, grid, config)
        try:
            yield from _cut(scene, original, src, label_source, config, chip,
                            chip.resolution if grid is not None else resolution)
        finally:
            label_source.close()
            if src is not original:
                src.close()


def _cut(scene: Path, original, src, labels: "_LabelSource", config: SourceConfig, chip: ChipConfig,
         resolution: float | None) -> Iterator[Sample]:
    size, stride = chip.size, chip.stride or chip.size
    nodata = config.nodata if config.nodata is not None else original.nodata
    names = tuple(original.descriptions) if all(original.descriptions) else default_band_names(original.count)
    for row in grid_offsets(src.height, size, stride):
        for col in grid_offsets(src.width, size, stride):
            window = Window(col, row, size, size)
            image = _read_padded(src, window, nodata or 0)
            valid = valid_pixels(image, nodata) & _inside(src, row, col, size)
            if not valid.any():
                continue
            mask = labels.read(window)
            mask[~valid] = IGNORE
            if config.review and (mask == IGNORE).all():
                continue  # no reviewed ground in this chip: nothing to learn from it
            image = np.where(valid[..., None], image, 0).astype(image.dtype)
            image, band_names = select_bands(image, names, config.bands, str(scene))
            yield Sample(image, mask, f"{scene.stem}_r{row}_c{col}", "geotiff", band_names, resolution, str(scene))


def _read_padded(src, window: Window, fill: float, indexes=None) -> np.ndarray:
    """(rows, cols, bands) of a window that may run past the raster's edges, filled outside."""
    count = src.count if indexes is None else 1
    out = np.full((int(window.height), int(window.width), count), fill, dtype=src.dtypes[0])
    top, left = int(window.row_off), int(window.col_off)
    bottom, right = min(top + int(window.height), src.height), min(left + int(window.width), src.width)
    if bottom > top and right > left:
        inner = Window(left, top, right - left, bottom - top)
        data = src.read(indexes, window=inner) if indexes is not None else src.read(window=inner)
        data = data[None] if data.ndim == 2 else data
        out[: bottom - top, : right - left] = np.moveaxis(data, 0, -1)
    return out


def _inside(src: rasterio.DatasetReader, row: int, col: int, size: int) -> np.ndarray:
    inside = np.zeros((size, size), bool)
    inside[: max(0, src.height - row), : max(0, src.width - col)] = True
    return inside


class _LabelSource:
    """Reads label windows from a raster on the scene's grid or rasterises a vector inventory,
    on the (possibly resampled) grid the chips are cut from."""

    def __init__(self, path: Path, scene: rasterio.DatasetReader, target, grid, config: SourceConfig) -> None:
        self.target = target
        self.value_map = config.mask_values or DEFAULT_MASK_VALUES
        self.raster = None
        self.shapes: list = []
        self.fill = 0  # class of pixels no shape covers
        if path.suffix.lower() in VECTOR_SUFFIXES and config.review:
            area = Path(config.labelled_area) if config.labelled_area else None
            reviewed = read_reviewed(path, scene.crs, config.review_margin, area)
            _check_overlap(path, [shape for shape, _ in reviewed.shapes[1:]], scene)  # the reviewed polygons
            _check_overlap(area or path, [reviewed.shapes[0][0]], scene)  # and the labelled area, each on its own
            self.shapes, self.fill = reviewed.shapes, IGNORE  # outside the reviewed ground: unlabelled
        elif path.suffix.lower() in VECTOR_SUFFIXES:
            self.shapes = [(shape, 1) for shape in read_inventory(path, scene.crs)]
            _check_overlap(path, [shape for shape, _ in self.shapes], scene)
        elif config.review:
            raise InputError(f"{path}: --review reads the review column of a vector inventory (.gpkg), not a raster")
        else:
            self.raster = _open(path)
            same = (self.raster.crs == scene.crs and self.raster.transform.almost_equals(scene.transform)
                    and self.raster.shape == scene.shape)
            if not same:
                self.raster.close()
                raise InputError(f"{path}: label raster is not on the grid of {scene.name} (CRS, transform "
                                 "and size must match); resample it onto the scene first")
            self.labels = warp(self.raster, grid, Resampling.nearest)
        self.path = path

    def read(self, window: Window) -> np.ndarray:
        if self.raster is not None:
            fill = next((v for v, name in self.value_map if name == "ignore"), 0)
            raw = _read_padded(self.labels, window, fill, indexes=1)[..., 0]
            return map_mask_values(raw, self.value_map, str(self.path))
        transform = rasterio.windows.transform(window, self.target.transform)
        shape = (int(window.height), int(window.width))
        if not self.shapes:
            return np.full(shape, self.fill, np.uint8)
        return rasterize(self.shapes, out_shape=shape, transform=transform, fill=self.fill, dtype="uint8")

    def close(self) -> None:
        if self.raster is not None:
            if self.labels is not self.raster:
                self.labels.close()
            self.raster.close()


def _check_overlap(path: Path, shapes: list, scene: rasterio.DatasetReader) -> None:
    """An inventory without features, or none on the scene, labels nothing: say so, naming the file."""
    if not shapes:
        raise InputError(f"{path}: the inventory holds no features, so it labels nothing in {scene.name}; "
                         "give the landslide polygons of this scene")
    bounds = shapely.box(*scene.bounds)
    if not any(shapely.intersects(shapes, bounds)):
        west, south, east, north = shapely.total_bounds(shapes)
        raise InputError(f"{path}: none of its {len(shapes)} features overlaps {scene.name} (features span "
                         f"{west:.6g},{south:.6g} to {east:.6g},{north:.6g} in the scene's CRS, the scene "
                         f"{scene.bounds.left:.6g},{scene.bounds.bottom:.6g} to {scene.bounds.right:.6g},"
                         f"{scene.bounds.top:.6g}); check the CRS of both files or choose this scene's labels")
