"""Any images/ + masks/ pair of folders, matched by file stem."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

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


def list_folder(root: Path) -> list[Path]:
    """The images of root/images (every one needs a mask in root/masks)."""
    if not (root / "masks").is_dir():
        raise InputError(f"{root}: expected images/ and masks/ inside; no masks/ folder")
    return list_images(root / "images")


def read_folder(root: Path, config: SourceConfig) -> Iterator[Sample]:
    """Samples from root/images and root/masks; every image needs a mask."""
    for path in list_folder(root):
        yield from read_folder_unit(root, path, config)


def read_folder_unit(root: Path, path: Path, config: SourceConfig) -> Iterator[Sample]:
    """The sample of one image and its mask."""
    masks = root / "masks"
    mask_path = match_by_stem(masks, path.stem)
    if mask_path is None:
        raise InputError(f"{path}: no mask with stem {path.stem!r} in {masks}; add it or remove the image")
    image = read_image(path)
    image, names = select_bands(image, default_band_names(image.shape[-1]), config.bands, str(path))
    value_map = config.mask_values or DEFAULT_MASK_VALUES
    yield Sample(image, read_mask(mask_path, image.shape, value_map), path.stem, "folder", names, config.resolution,
                 str(path))
