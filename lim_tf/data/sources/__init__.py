"""Source name to reader. A source is a list of units (an image file, a patch, a scene) and a
reader of one unit, so units can be read anywhere, in any order: in this process or on workers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lim_tf.config import ChipConfig, SourceConfig
from lim_tf.data.sample import Sample
from lim_tf.data.sources import bijie
from lim_tf.data.sources.bijie import list_bijie, read_bijie_unit
from lim_tf.data.sources.folder import list_folder, read_folder_unit
from lim_tf.data.sources.geotiff import read_scene, scene_pairs
from lim_tf.data.sources.l4s import list_l4s, read_l4s_unit
from lim_tf.errors import InputError

# Non-landslide samples per landslide sample where a source's documentation states the real mix;
# eval reweights to it (--kind-ratio), since development copies and test splits hold other shares.
KIND_RATIOS: dict[str, float] = {"bijie": bijie.KIND_RATIO}


def list_units(path: Path, source: SourceConfig) -> list[Any]:
    """The units of `path` in the configured format, in a fixed order."""
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    if source.format == "bijie":
        return list_bijie(path)
    if source.format == "folder":
        return list_folder(path)
    if source.format == "l4s":
        return list_l4s(path)
    return scene_pairs(path, source.labels)


def read_unit(path: Path, unit: Any, source: SourceConfig, chip: ChipConfig) -> Iterator[Sample]:
    """The samples of one unit."""
    if source.format == "bijie":
        return read_bijie_unit(path, unit, source)
    if source.format == "folder":
        return read_folder_unit(path, unit, source)
    if source.format == "l4s":
        return read_l4s_unit(unit, source)
    return read_scene(unit[0], unit[1], source, chip)


def read_samples(path: Path, source: SourceConfig, chip: ChipConfig) -> Iterator[Sample]:
    """Samples from `path` in the configured format."""
    for unit in list_units(path, source):
        yield from read_unit(path, unit, source, chip)
