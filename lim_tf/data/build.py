"""`lim-tf data build`: source folder -> chips -> splits -> augmentation -> records + manifest."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from lim_tf import __version__
from lim_tf.atomic import atomic_directory
from lim_tf.data.augment import augment_chips
from lim_tf.config import DataConfig, dump_yaml, to_dict
from lim_tf.data.chips import make_chips
from lim_tf.data.manifest import write_manifest
from lim_tf.data.records import write_records
from lim_tf.data.sample import Chip
from lim_tf.data.schema import SCHEMA_VERSION
from lim_tf.data.sources import read_samples
from lim_tf.data.splits import assign_splits
from lim_tf.data.stats import PixelCounts, band_statistics, count_pixels
from lim_tf.errors import InputError

log = logging.getLogger(__name__)


def collect_chips(path: Path, config: DataConfig, progress: bool = True,
                  resolutions: set | None = None) -> list[Chip]:
    """Read every sample and cut or resize it into chips; bands and dtypes must agree.
    The samples' own pixel sizes are added to `resolutions` when given."""
    chips: list[Chip] = []
    samples = read_samples(path, config.source, config.chip)
    for sample in tqdm(samples, desc="reading", unit="sample", disable=not progress):
        if resolutions is not None:
            resolutions.add(None if sample.resolution is None else round(sample.resolution, 3))
        if np.issubdtype(sample.image.dtype, np.floating) and not np.isfinite(sample.image).all():
            raise InputError(f"{sample.sample_id}: image has NaN or infinite values; mark them as nodata "
                             "(--nodata nan for rasters) or clean the file")
        for chip in make_chips(sample, config.chip):
            if chips and (chip.band_names != chips[0].band_names or chip.image.dtype != chips[0].image.dtype):
                raise InputError(f"{sample.sample_id}: bands {chip.band_names} ({chip.image.dtype}) differ from "
                                 f"{chips[0].chip_id}'s {chips[0].band_names} ({chips[0].image.dtype}); "
                                 "every sample needs the same bands")
            chips.append(chip)
    if not chips:
        raise InputError(f"{path}: no chips with valid pixels were found")
    return chips


def build_dataset(path: Path, out: Path, config: DataConfig, overwrite: bool = False,
                  progress: bool = True) -> dict[str, Any]:
    """Build the record set in `out` atomically and return its manifest."""
    path, out = Path(path), Path(out)
    resolutions: set[float | None] = set()
    chips = assign_splits(collect_chips(path, config, progress, resolutions), config.split)
    train = [c for c in chips if c.fold >= 0]
    before = count_pixels(train)
    bar: Callable | None = (lambda items, **kw: tqdm(items, **kw)) if progress else None
    augmented = augment_chips(chips, before, config.augment, bar)
    after = before + count_pixels(augmented)
    groups = _group(chips + augmented, config.split.folds)
    manifest = _manifest(path, config, chips, groups, before, after, _resolution(resolutions, config))
    with atomic_directory(out, overwrite) as temporary:
        for name, members in tqdm(groups.items(), desc="writing", unit="split", disable=not progress):
            manifest["files"][name] = write_records(members, temporary, name, config.examples_per_shard)
        write_manifest(manifest, temporary)
        dump_yaml(config, temporary / "data_config.yaml")
    log.info("wrote %d chips to %s", sum(len(m) for m in groups.values()), out)
    return manifest


def _resolution(found: set, config: DataConfig) -> float | None:
    """The records' metres per pixel: the target, or the sources' own when they all agree."""
    if config.chip.mode == "resize":
        return None
    if config.chip.resolution is not None:
        return config.chip.resolution
    if len(found) == 1:
        return next(iter(found))
    if len(found) > 1:
        log.warning("samples come at several pixel sizes (%s); pass --resolution to bring them to one",
                    ", ".join(str(r) for r in sorted(found, key=lambda r: r or 0)))
    return None


def _group(chips: Sequence[Chip], folds: int) -> dict[str, list[Chip]]:
    """Chips per split name (test, fold0..foldK-1), each sorted for byte-identical output."""
    groups: dict[str, list[Chip]] = {"test": []} | {f"fold{k}": [] for k in range(folds)}
    for chip in chips:
        groups["test" if chip.fold < 0 else f"fold{chip.fold}"].append(chip)
    return {name: sorted(members, key=lambda c: c.chip_id) for name, members in groups.items()}


def _manifest(path: Path, config: DataConfig, chips: Sequence[Chip], groups: dict[str, list[Chip]],
              before: PixelCounts, after: PixelCounts, resolution: float | None) -> dict[str, Any]:
    first = chips[0]
    # Over the training portion before augmentation (every chip of a test-only set): what models
    # trained on these records normalise by.
    train_originals = [c for c in chips if c.fold >= 0] or list(chips)
    return {
        "schema_version": SCHEMA_VERSION,
        "created_by": f"lim-tf {__version__}",
        "source": {"format": config.source.format, "input": str(path)},
        "chip_mode": config.chip.mode,
        # Every chip's size, or None when chips keep their own sizes (native mode).
        "chip_size": None if config.chip.mode == "native" else config.chip.size,
        # Metres per pixel of every chip (None: unknown or resized per chip); map and eval use it.
        "resolution": resolution,
        "image_dtype": first.image.dtype.name,
        "band_names": list(first.band_names),
        "band_statistics": band_statistics(train_originals, first.band_names),
        "folds": config.split.folds,
        "files": {},
        "examples": {name: {"total": len(m), "landslide": sum(c.is_landslide for c in m),
                            "non_landslide": sum(not c.is_landslide for c in m),
                            "augmented": sum(c.augmentation != "none" for c in m)}
                     for name, m in groups.items()},
        "pixels": {"train_before_augmentation": _counts(before),
                   "train_after_augmentation": _counts(after),
                   "test": _counts(count_pixels(groups["test"]))},
        "imbalance_ratio": {"before_augmentation": before.imbalance_ratio,
                            "after_augmentation": after.imbalance_ratio},
        "config": to_dict(config),
    }


def _counts(counts: PixelCounts) -> dict[str, int]:
    return {"landslide": counts.landslide, "background": counts.background}
