"""What a model is scored on: (id, image, mask) items from a record split or an image folder.

Folder images are brought to the model's ground resolution by the same rule that built the
records (data/chips.py), so a score on records and a score on the source images agree."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lim_tf.config import ChipConfig, SourceConfig
from lim_tf.data.chips import make_chips
from lim_tf.data.images import list_images
from lim_tf.data.manifest import load_manifest
from lim_tf.data.pipeline import record_files, split_groups
from lim_tf.data.records import read_records
from lim_tf.data.sources import read_samples
from lim_tf.errors import InputError

Item = tuple[str, np.ndarray, np.ndarray]  # id, image (H, W, C), mask in class values


@dataclass(frozen=True)
class Items:
    """Items to score, how many there are and their band count (None: known only when read)."""

    items: Iterator[Item]
    count: int
    bands: int | None


def record_items(records: Path, split: str, fold: int | None = None) -> Items:
    """A record split's original chips (augmented copies are left out); 'val' needs a fold."""
    manifest = load_manifest(records)
    files = record_files(Path(records), manifest, split, fold)  # type: ignore[arg-type]
    names = split_groups(split, fold, manifest.folds)  # type: ignore[arg-type]
    count = sum(manifest.examples[n].originals for n in names)
    items = ((c.chip_id, c.image, c.mask) for c in read_records(files) if c.augmentation == "none")
    return Items(items, count, len(manifest.band_names))


def folder_items(folder: Path, source: SourceConfig, resolution: float | None) -> Items:
    """Images of a Bijie-layout folder (landslide/ and non-landslide/; the latter need no masks) or
    of images/ + masks/, each brought to `resolution` metres per pixel (None: as they are)."""
    folder = Path(folder)
    if (folder / "landslide" / "image").is_dir():
        source = dataclasses.replace(source, format="bijie")
        count = sum(len(list_images(folder / kind / "image")) for kind in ("landslide", "non-landslide"))
    elif (folder / "images").is_dir():
        source = dataclasses.replace(source, format="folder")
        count = len(list_images(folder / "images"))
    else:
        raise InputError(f"{folder}: expected landslide/image/ and non-landslide/image/ (the Bijie layout) or "
                         "images/ with masks/")
    chip = ChipConfig(mode="native", resolution=resolution)
    samples = read_samples(folder, source, chip)
    items = ((c.chip_id, c.image, c.mask) for sample in samples for c in make_chips(sample, chip))
    return Items(items, count, None)
