"""Source name to reader. A source is a list of units (an image file, a patch, a scene) and a
reader of one unit, so units can be read anywhere, in any order: in this process or on workers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Source:
    """A source format: how its units are listed and read, and what its documentation states."""

    list_units: Callable[[Path, SourceConfig], list[Any]]  # in a fixed order
    read_unit: Callable[[Path, Any, SourceConfig, ChipConfig], Iterator[Sample]]
    # Non-landslide samples per landslide sample where the source's documentation states the real
    # mix; eval reweights to it (--kind-ratio), since development copies and test splits hold other shares.
    kind_ratio: float | None = None


# The one table of sources: config.SourceFormat lists its keys (tests/test_sources.py checks they agree).
SOURCES: dict[str, Source] = {
    "bijie": Source(lambda path, _: list_bijie(path), lambda path, unit, source, _: read_bijie_unit(path, unit, source),
                    bijie.KIND_RATIO),
    "folder": Source(lambda path, _: list_folder(path),
                     lambda path, unit, source, _: read_folder_unit(path, unit, source)),
    "l4s": Source(lambda path, _: list_l4s(path), lambda _, unit, source, __: read_l4s_unit(unit, source)),
    "geotiff": Source(lambda path, source: scene_pairs(path, source.labels),
                      lambda _, unit, source, chip: read_scene(unit[0], unit[1], source, chip)),
}
KIND_RATIOS: dict[str, float] = {name: s.kind_ratio for name, s in SOURCES.items() if s.kind_ratio}


def list_units(path: Path, source: SourceConfig) -> list[Any]:
    """The units of `path` in the configured format, in a fixed order."""
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    return SOURCES[source.format].list_units(path, source)


def read_unit(path: Path, unit: Any, source: SourceConfig, chip: ChipConfig) -> Iterator[Sample]:
    """The samples of one unit."""
    return SOURCES[source.format].read_unit(path, unit, source, chip)


def read_samples(path: Path, source: SourceConfig, chip: ChipConfig) -> Iterator[Sample]:
    """Samples from `path` in the configured format."""
    for unit in list_units(path, source):
        yield from read_unit(path, unit, source, chip)
