"""The Bijie layout: landslide/{image,mask,dem}/ and non-landslide/{image,dem}/."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from lim_tf.config import SourceConfig
from lim_tf.data.images import (
    DEFAULT_MASK_VALUES,
    default_band_names,
    list_images,
    match_by_stem,
    read_image,
    read_mask,
    select_bands,
)
from lim_tf.data.sample import Sample
from lim_tf.errors import InputError

CLASSES = ("landslide", "non-landslide")
RESOLUTION = 0.8  # metres: TripleSat imagery, as the dataset's paper states
# Non-landslide samples per landslide sample in the whole dataset (2003 / 770, Ji et al. 2020): the real
# mix a model meets there, whatever share of each kind a development copy or a test split holds.
KIND_RATIO = 2003 / 770


def list_bijie(root: Path) -> list[tuple[str, Path]]:
    """(class folder, image path) pairs; both class folders must exist."""
    for name in CLASSES:
        if not (root / name / "image").is_dir():
            raise InputError(f"{root}: expected {name}/image/ inside (the Bijie layout); "
                             "use --format folder for images/ + masks/")
    return [(name, path) for name in CLASSES for path in list_images(root / name / "image")]


def read_bijie(root: Path, config: SourceConfig) -> Iterator[Sample]:
    """Samples from a Bijie folder; non-landslide chips get all-background masks (0.8 m unless
    the config says otherwise)."""
    for unit in list_bijie(root):
        yield from read_bijie_unit(root, unit, config)


def read_bijie_unit(root: Path, unit: tuple[str, Path], config: SourceConfig) -> Iterator[Sample]:
    """The sample of one (class folder, image path) unit."""
    value_map = config.mask_values or DEFAULT_MASK_VALUES
    name, path = unit
    image = read_image(path)
    names = default_band_names(image.shape[-1])
    if config.include_dem:
        image, names = _add_dem(root / name / "dem", path, image, names)
    image, names = select_bands(image, names, config.bands, str(path))
    if name == "landslide":
        mask_path = match_by_stem(root / name / "mask", path.stem)
        if mask_path is None:
            raise InputError(f"{path}: landslide image has no mask in {root / name / 'mask'}; "
                             "add the mask or remove the image")
        mask = read_mask(mask_path, image.shape, value_map)
    else:
        mask = np.zeros(image.shape[:2], np.uint8)
    yield Sample(image, mask, f"{name}/{path.stem}", "bijie", names, config.resolution or RESOLUTION, str(path))


def _add_dem(folder: Path, image_path: Path, image: np.ndarray,
             names: tuple[str, ...]) -> tuple[np.ndarray, tuple[str, ...]]:
    dem_path = match_by_stem(folder, image_path.stem)
    if dem_path is None:
        raise InputError(f"{image_path}: no DEM in {folder}; add it or drop --include-dem")
    dem = read_image(dem_path)[..., :1]
    if dem.shape[:2] != image.shape[:2]:
        raise InputError(f"{dem_path}: DEM size differs from its image {image_path.name}")
    stacked = np.concatenate([image.astype(np.float32), dem.astype(np.float32)], axis=-1)
    return stacked, names + ("dem",)
