"""The parts of a record build that run where the data is (this process or a Dask worker): read
one unit into chips, describe them in a few numbers, and write one shard.

The client plans from the descriptions alone (ChipFacts: ids, kinds, pixel counts, band sums), so
chips never travel to it; each shard is serialised by the worker that writes it."""

from __future__ import annotations

import dataclasses
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lim_tf.config import DataConfig
from lim_tf.data.chips import make_chips
from lim_tf.data.sample import Chip
from lim_tf.data.sources import read_unit
from lim_tf.data.stats import PixelCounts, band_sums, chip_counts
from lim_tf.errors import InputError


@dataclass(frozen=True)
class ChipFacts:
    """What the client needs to know of a chip to split, plan and describe the set."""

    chip_id: str
    origin_id: str
    is_landslide: bool
    band_names: tuple[str, ...]
    dtype: str
    counts: PixelCounts
    unit: int  # which unit's chips it is in, and where
    index: int
    path: str  # the file it comes from, for messages
    sums: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]  # band sum, sum of squares, min, max, pixels
    fold: int = -1
    augmentation: str = "none"


@dataclass(frozen=True)
class UnitChips:
    """A unit's chips and the pixel sizes of its samples as read."""

    chips: list[Chip]
    resolutions: list[float | None]
    paths: list[str]  # per chip: the file it comes from


def read_unit_chips(path: Path, unit: Any, config: DataConfig) -> UnitChips:
    """Read one unit and cut or resize it into chips; NaN pixels are refused."""
    chips, resolutions, paths = [], [], []
    for sample in read_unit(Path(path), unit, config.source, config.chip):
        if np.issubdtype(sample.image.dtype, np.floating) and not np.isfinite(sample.image).all():
            raise InputError(f"{sample.path or sample.sample_id}: image has NaN or infinite values; mark them as "
                             "nodata (--nodata nan for rasters) or clean the file")
        resolutions.append(None if sample.resolution is None else round(sample.resolution, 3))
        made = list(make_chips(sample, config.chip))
        chips.extend(made)
        paths.extend([sample.path or sample.sample_id] * len(made))
    return UnitChips(chips, resolutions, paths)


def describe_chips(unit_chips: UnitChips, unit: int) -> tuple[list[ChipFacts], list[float | None]]:
    """The facts of a unit's chips, and its samples' pixel sizes."""
    facts = [ChipFacts(c.chip_id, c.origin_id, c.is_landslide, c.band_names, c.image.dtype.name, chip_counts(c),
                       unit, index, unit_chips.paths[index], band_sums(c)) for index, c in enumerate(unit_chips.chips)]
    return facts, unit_chips.resolutions


def write_shard(directory: str, name: str, entries: list[tuple[int, int, int, str, int]],
                units: dict[int, UnitChips], config: DataConfig) -> tuple[str, str]:
    """Write one shard: entries are (unit, index, fold, recipe or 'none', copy), in record order.
    Returns its name and SHA-256."""
    from lim_tf.data.augment import augment_copy
    from lim_tf.data.records import write_chips

    chips = []
    for unit, index, fold, recipe, copy in entries:
        chip = dataclasses.replace(units[unit].chips[index], fold=fold)
        chips.append(chip if recipe == "none" else augment_copy(chip, recipe, copy, config.augment))
    write_chips(chips, Path(directory) / name)
    return name, hashlib.sha256((Path(directory) / name).read_bytes()).hexdigest()
