"""`lim-tf data build`: source folder -> chips -> splits -> augmentation -> records + manifest.

The work is split so it can run on Dask workers (`cluster`): units of the source are read and
chipped where they are processed, the client plans splits and augmentation from ChipFacts alone
(summing statistics in chip order), and each shard is augmented and written by a worker. In
process the same stages run here, so both give byte-identical records for the same seed.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from lim_tf import __version__
from lim_tf.atomic import atomic_directory, check_apart
from lim_tf.config import DataConfig, dump_yaml, to_dict
from lim_tf.data.augment import copy_id, plan_copies
from lim_tf.data.manifest import SCHEMA_VERSION, Manifest, write_manifest
from lim_tf.data.records import shard_names
from lim_tf.data.sources import KIND_RATIOS, list_units
from lim_tf.data.splits import assign_splits
from lim_tf.data.stats import PixelCounts, combine_band_sums
from lim_tf.data.units import ChipFacts, describe_chips, read_unit_chips, write_shard
from lim_tf.errors import InputError, OutputError
from lim_tf.runtime.cluster import executor

log = logging.getLogger(__name__)
Entry = tuple[str, tuple[int, int, int, str, int], ChipFacts]  # record id, shard entry, the original's facts


def build_dataset(path: Path, out: Path, config: DataConfig, overwrite: bool = False, progress: bool = True,
                  cluster: str | None = None) -> Manifest:
    """Build the record set in `out` atomically and return its manifest; `cluster` as for map."""
    path, out = Path(path), Path(out)
    check_apart(out, [("INPUT", path), ("--labels", config.source.labels),
                      ("--labelled-area", config.source.labelled_area)])
    if out.exists() and not overwrite:
        raise OutputError(f"{out}: already exists; choose another folder or pass --overwrite")
    units = list_units(path, config.source)
    with executor(cluster) as engine:
        with tqdm(total=len(units), desc="reading", unit="file", disable=not progress) as bar:
            kept = engine.keep(read_unit_chips, [(path, unit, config) for unit in units], bar)
            described = engine.apply(describe_chips, [(chips, index) for index, chips in enumerate(kept)])
        facts = [fact for unit_facts, _ in described for fact in unit_facts]
        _check(facts, path)
        facts = assign_splits(facts, config.split)
        before = _sum_counts(f for f in facts if f.fold >= 0)
        plan = plan_copies(facts, before, config.augment, counts=lambda f: f.counts)
        after = before + _sum_counts(facts[i] for i, _ in plan)
        groups = _group(facts, plan, config)
        resolutions = {r for _, found in described for r in found}
        content = _manifest(path, config, facts, groups, before, after, _resolution(resolutions, config))
        with atomic_directory(out, overwrite) as temporary:
            tasks = []
            for name, entries in groups.items():
                size = config.examples_per_shard
                for number, shard in enumerate(shard_names(name, len(entries), size)):
                    part = [entry for _, entry, _ in entries[number * size:(number + 1) * size]]
                    needed = {unit: kept[unit] for unit, *_ in part}
                    tasks.append((str(temporary), shard, part, needed, config))
                content["files"][name] = shard_names(name, len(entries), size)
            with tqdm(total=len(tasks), desc="writing", unit="shard", disable=not progress) as bar:
                content["sha256"] = dict(sorted(engine.apply(write_shard, tasks, bar)))
            manifest = Manifest.from_json(content)
            write_manifest(manifest, temporary)
            dump_yaml(config, temporary / "data_config.yaml")
    log.info("wrote %d chips to %s", sum(len(m) for m in groups.values()), out)
    return manifest


def _check(facts: Sequence[ChipFacts], path: Path) -> None:
    """Every chip needs the same bands and dtype, and there must be some."""
    if not facts:
        raise InputError(f"{path}: no chips with valid pixels were found")
    first = facts[0]
    for fact in facts:
        if (fact.band_names, fact.dtype) != (first.band_names, first.dtype):
            raise InputError(f"{fact.path}: bands {fact.band_names} ({fact.dtype}) differ from {first.path}'s "
                             f"{first.band_names} ({first.dtype}); every sample needs the same bands")


def _sum_counts(facts) -> PixelCounts:
    return sum((f.counts for f in facts), PixelCounts())


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


def _group(facts: Sequence[ChipFacts], plan: list[tuple[int, int]], config: DataConfig) -> dict[str, list[Entry]]:
    """Records per split name (test, fold0..foldK-1): originals and their augmented copies, each
    group sorted by record id for byte-identical output."""
    groups: dict[str, list[Entry]] = {"test": [], **{f"fold{k}": [] for k in range(config.split.folds)}}

    def name(fact: ChipFacts) -> str:
        return "test" if fact.fold < 0 else f"fold{fact.fold}"

    for fact in facts:
        groups[name(fact)].append((fact.chip_id, (fact.unit, fact.index, fact.fold, "none", 0), fact))
    for index, copy in plan:
        fact = facts[index]
        recipe, record_id = copy_id(fact.chip_id, copy, config.augment)
        copied = dataclasses.replace(fact, chip_id=record_id, augmentation=recipe)
        groups[name(fact)].append((record_id, (fact.unit, fact.index, fact.fold, recipe, copy), copied))
    return {group: sorted(entries, key=lambda e: e[0]) for group, entries in groups.items()}


def _manifest(path: Path, config: DataConfig, facts: Sequence[ChipFacts], groups: dict[str, list[Entry]],
              before: PixelCounts, after: PixelCounts, resolution: float | None) -> dict[str, Any]:
    first = facts[0]
    # Over the training portion before augmentation (every chip of a test-only set): what models
    # trained on these records normalise by.
    train_originals = [f for f in facts if f.fold >= 0] or list(facts)
    members = {name: [fact for _, _, fact in entries] for name, entries in groups.items()}
    return {
        "schema_version": SCHEMA_VERSION,
        "created_by": f"lim-tf {__version__}",
        "source": {"format": config.source.format, "input": str(path),
                   "kind_ratio": KIND_RATIOS.get(config.source.format)},
        "chip_mode": config.chip.mode,
        # Every chip's size, or None when chips keep their own sizes (native mode).
        "chip_size": None if config.chip.mode == "native" else config.chip.size,
        # Metres per pixel of every chip (None: unknown or resized per chip); map and eval use it.
        "resolution": resolution,
        "image_dtype": first.dtype,
        "band_names": list(first.band_names),
        "band_statistics": [dataclasses.asdict(band) for band in
                            combine_band_sums((f.sums for f in train_originals), first.band_names)],
        "folds": config.split.folds,
        "files": {},
        "examples": {name: {"total": len(m), "landslide": sum(f.is_landslide for f in m),
                            "non_landslide": sum(not f.is_landslide for f in m),
                            "augmented": sum(f.augmentation != "none" for f in m)}
                     for name, m in members.items()},
        "pixels": {"train_before_augmentation": _counts(before),
                   "train_after_augmentation": _counts(after),
                   "test": _counts(_sum_counts(members["test"]))},
        "imbalance_ratio": {"before_augmentation": before.imbalance_ratio,
                            "after_augmentation": after.imbalance_ratio},
        "config": to_dict(config),
    }


def _counts(counts: PixelCounts) -> dict[str, int]:
    return {"landslide": counts.landslide, "background": counts.background}
