"""Reading image and mask files (PNG, JPEG, GeoTIFF) into arrays, with errors that name the file."""

from __future__ import annotations

import struct
import warnings
from pathlib import Path

import numpy as np
import rasterio
from PIL import Image, UnidentifiedImageError

from lim_tf.data.sample import CLASS_VALUES
from lim_tf.errors import InputError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")
# Samples are read whole; a file declaring more than this is refused before anything is decoded
# (a chip this size is already a scene: cut it, or use --format geotiff, which reads by window).
MAX_SAMPLE_BYTES = 2 * 2**30
DEFAULT_MASK_VALUES = ((0, "background"), (1, "landslide"), (255, "landslide"))


def read_image(path: Path) -> np.ndarray:
    """Read an image as (height, width, bands) in its own dtype."""
    if path.suffix.lower() in (".tif", ".tiff"):
        return _read_tiff(path)
    try:
        with Image.open(path) as image:
            check_declared_size(path, image.width, image.height, len(image.getbands()), 4)
            image.load()
            converted = image.convert("RGB") if image.mode in ("P", "RGBA", "LA", "CMYK", "YCbCr") else image
            array = np.asarray(converted)
    except FileNotFoundError as error:
        raise InputError(f"{path}: file not found") from error
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError,
            EOFError, IndexError, struct.error) as error:
        reason = str(error).splitlines()[0][:160] if str(error) else type(error).__name__
        raise InputError(f"{path}: cannot decode image ({reason}); replace or remove the file") from error
    return array[..., None] if array.ndim == 2 else array


def check_declared_size(path: Path, width: int, height: int, bands: int, item_bytes: int) -> None:
    """Refuse a sample whose header declares more pixels than MAX_SAMPLE_BYTES can hold."""
    size = int(width) * int(height) * int(bands) * int(item_bytes)
    if size > MAX_SAMPLE_BYTES:
        raise InputError(f"{path}: declares {width} x {height} x {bands} values ({size / 2**30:.1f} GiB), over the "
                         f"{MAX_SAMPLE_BYTES / 2**30:.0f} GiB limit for one sample; cut it into chips, or read it as a "
                         "scene with --format geotiff")


def _read_tiff(path: Path) -> np.ndarray:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)  # a chip needs no transform
            dataset = rasterio.open(path)
        with dataset:
            check_declared_size(path, dataset.width, dataset.height, dataset.count,
                                np.dtype(dataset.dtypes[0]).itemsize)
            return np.moveaxis(dataset.read(), 0, -1)
    except rasterio.errors.RasterioIOError as error:
        raise InputError(f"{path}: cannot read raster ({error}); replace or remove the file") from error


def read_mask(path: Path, image_shape: tuple[int, ...],
              value_map: tuple[tuple[int, str], ...] = DEFAULT_MASK_VALUES) -> np.ndarray:
    """Read a one-band mask and map its values to classes; sizes and values are checked."""
    raw = read_image(path)
    if raw.shape[-1] != 1:
        if raw.shape[-1] >= 3 and np.all(raw[..., :1] == raw[..., 1:3]):
            raw = raw[..., :1]  # a grey mask saved as RGB
        else:
            raise InputError(f"{path}: mask has {raw.shape[-1]} bands; save it as one band")
    raw = raw[..., 0]
    if raw.shape != tuple(image_shape[:2]):
        raise InputError(f"{path}: mask is {raw.shape[1]}x{raw.shape[0]} but its image is "
                         f"{image_shape[1]}x{image_shape[0]}; masks must match their image")
    return map_mask_values(raw, value_map, str(path))


def map_mask_values(raw: np.ndarray, value_map: tuple[tuple[int, str], ...], where: str) -> np.ndarray:
    """Turn source mask values into class values; undeclared values are an error."""
    declared = {value for value, _ in value_map}
    found = set(np.unique(raw).tolist())
    stray = sorted(found - declared)
    if stray:
        raise InputError(f"{where}: mask has values {stray} besides the declared "
                         f"{sorted(declared)}; fix the mask or pass --mask-values (e.g. '2=landslide,1=background,0=ignore')")
    mask = np.zeros(raw.shape, np.uint8)
    for value, name in value_map:
        mask[raw == value] = CLASS_VALUES[name]
    return mask


def list_images(folder: Path) -> list[Path]:
    """Image files in a folder, sorted by name; a missing or empty folder is an error."""
    if not folder.is_dir():
        raise InputError(f"{folder}: folder not found")
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise InputError(f"{folder}: no images ({', '.join(IMAGE_SUFFIXES)}) in this folder")
    return files


def match_by_stem(folder: Path, stem: str) -> Path | None:
    """The file in `folder` with this stem and an image suffix, if any."""
    for suffix in IMAGE_SUFFIXES:
        for candidate in (folder / f"{stem}{suffix}", folder / f"{stem}{suffix.upper()}"):
            if candidate.exists():
                return candidate
    return None


def band_indexes(names: tuple[str, ...], selection: tuple[str, ...], where: str) -> list[int]:
    """0-based indexes of bands chosen by name or 1-based index (as GDAL numbers bands); all if none."""
    if not selection:
        return list(range(len(names)))
    lookup = {name.lower(): i for i, name in enumerate(names)}
    indexes = []
    for item in selection:
        index = int(item) - 1 if item.isdigit() and item.lower() not in lookup else lookup.get(item.lower(), -1)
        if not 0 <= index < len(names):
            raise InputError(f"{where}: no band {item!r}; bands are {', '.join(names)} "
                             f"(or 1-based indices 1..{len(names)})")
        indexes.append(index)
    return indexes


def select_bands(image: np.ndarray, names: tuple[str, ...], selection: tuple[str, ...],
                 where: str) -> tuple[np.ndarray, tuple[str, ...]]:
    """Select bands by name or 1-based index; returns the image and the chosen names."""
    if not selection:
        return image, names
    indexes = band_indexes(names, selection, where)
    return image[..., indexes], tuple(names[i] for i in indexes)


def valid_pixels(image: np.ndarray, nodata: float | None) -> np.ndarray:
    """Pixels with finite values in every band that are not nodata in all bands."""
    finite = np.isfinite(image).all(axis=-1) if np.issubdtype(image.dtype, np.floating) else np.ones(image.shape[:2], bool)
    if nodata is None or np.isnan(nodata):
        return finite
    return finite & ~np.all(image == nodata, axis=-1)


def default_band_names(count: int) -> tuple[str, ...]:
    """RGB names for 3 bands, grey for 1, band1..bandN otherwise."""
    if count == 3:
        return ("red", "green", "blue")
    if count == 1:
        return ("grey",)
    return tuple(f"band{i + 1}" for i in range(count))
