"""Several record sets as one, so sources train together (`lim-tf data merge`).

Each source keeps its own split: its test chips stay test chips and its fold k joins fold k, so a
model trained on the merged set is still scored on ground none of its training saw, source by
source. The shards are linked (copied across filesystems), not rewritten; the band statistics that
models normalise by are pooled exactly from each source's mean, spread and labelled-pixel count.
"""

from __future__ import annotations

import math
import os
import shutil
from pathlib import Path

from lim_tf import __version__
from lim_tf.atomic import atomic_directory, check_apart
from lim_tf.data.manifest import BandStatistics, ExampleCounts, Manifest, verify_records, write_manifest
from lim_tf.errors import ConfigError, InputError


def merge_records(sources: list[Path], out: Path, overwrite: bool = False) -> Manifest:
    """Merge the record sets `sources` (at least two, built alike) into OUT; returns its manifest."""
    if len(sources) < 2:
        raise ConfigError("data merge: give at least two record sets, then OUT")
    check_apart(out, [("RECORDS", source) for source in sources])
    _check_distinct(sources)
    manifests = [verify_records(Path(s)) for s in sources]  # every shard whole before it is linked
    for path, manifest in zip(sources[1:], manifests[1:]):
        _check_alike(Path(sources[0]), manifests[0], Path(path), manifest)
    with atomic_directory(Path(out), overwrite) as folder:
        files: dict[str, list[str]] = {group: [] for group in manifests[0].files}
        checksums = {}
        for index, (source, manifest) in enumerate(zip(sources, manifests)):
            for group, names in manifest.files.items():
                for name in names:
                    merged = f"s{index}-{name}"  # sources may name their shards alike
                    _link(Path(source) / name, folder / merged)
                    files[group].append(merged)
                    checksums[merged] = manifest.sha256[name]
        merged_manifest = _manifest([Path(s) for s in sources], manifests, files, checksums)
        write_manifest(merged_manifest, folder)
    return merged_manifest


def _check_distinct(sources: list[Path]) -> None:
    """The same record set given twice would count every chip twice (and put each in two shards)."""
    seen: dict[Path, Path] = {}
    for source in sources:
        key = Path(source).resolve()
        if key in seen:
            raise ConfigError(f"{source}: given twice (also as {seen[key]}); give each record set once")
        seen[key] = Path(source)


def _check_alike(first_path: Path, first: Manifest, path: Path, other: Manifest) -> None:
    """Refuse, naming both sets, what one network cannot learn from together."""
    def bands(m: Manifest) -> str:
        return f"{len(m.band_names)} bands ({', '.join(m.band_names)})"

    def resolution(m: Manifest) -> str:
        return f"chips at {m.resolution:g} m" if m.resolution else "chips at their source's own pixel size"

    problems = [
        (len(other.band_names) != len(first.band_names), bands, "build both with the same --bands"),
        (other.image_dtype != first.image_dtype, lambda m: f"{m.image_dtype} pixels",
         "one normalisation cannot serve both scales: build both with the same pixel type and range"),
        (other.folds != first.folds, lambda m: f"{m.folds} folds", "build both with the same --folds"),
        (resolution(other) != resolution(first), resolution,
         "build both with the same --resolution (a model learns landslides at one size)"),
    ]
    for differs, describe, fix in problems:
        if differs:
            raise InputError(f"{path}: {describe(other)} but {first_path} has {describe(first)}; {fix}")


def _link(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError:  # another filesystem, or links not allowed
        shutil.copy2(source, target)


def _pooled_statistics(manifests: list[Manifest]) -> tuple[BandStatistics, ...]:
    """Each band's mean, std, min and max over every source's training pixels, from each source's own
    statistics weighted by its labelled training pixels (every chip's, for test-only sets)."""
    weights = []
    for manifest in manifests:
        counts = manifest.pixels.get("train_before_augmentation" if manifest.folds else "test", {})
        weights.append(float(counts.get("landslide", 0) + counts.get("background", 0)))
    total = sum(weights)
    if not total:
        weights, total = [1.0] * len(manifests), float(len(manifests))
    pooled = []
    for band, name in enumerate(manifests[0].band_names):
        rows = [m.band_statistics[band] for m in manifests]
        mean = sum(w * r.mean for w, r in zip(weights, rows)) / total
        square = sum(w * (r.std**2 + r.mean**2) for w, r in zip(weights, rows)) / total
        pooled.append(BandStatistics(name, mean, math.sqrt(max(square - mean**2, 0.0)), min(r.min for r in rows),
                                     max(r.max for r in rows)))
    return tuple(pooled)


def _summed(tables: list[dict[str, dict[str, int]]]) -> dict[str, dict[str, int]]:
    """Counts per group and key, summed over the sources."""
    summed: dict[str, dict[str, int]] = {}
    for table in tables:
        for group, counts in table.items():
            for key, value in counts.items():
                summed.setdefault(group, {}).setdefault(key, 0)
                summed[group][key] += value
    return summed


def _summed_examples(manifests: list[Manifest]) -> dict[str, ExampleCounts]:
    groups = manifests[0].examples
    return {group: sum((m.examples[group] for m in manifests[1:]), manifests[0].examples[group]) for group in groups}


def _manifest(sources: list[Path], manifests: list[Manifest], files: dict[str, list[str]],
              checksums: dict[str, str]) -> Manifest:
    first = manifests[0]
    pixels = _summed([m.pixels for m in manifests])

    def ratio(group: str) -> float | None:
        counts = pixels.get(group, {})
        return counts["background"] / counts["landslide"] if counts.get("landslide") else None

    sizes = {m.chip_size for m in manifests}
    return Manifest(
        band_names=first.band_names, image_dtype=first.image_dtype, folds=first.folds,
        band_statistics=_pooled_statistics(manifests), files=files, examples=_summed_examples(manifests),
        sha256=checksums, chip_mode=first.chip_mode if len({m.chip_mode for m in manifests}) == 1 else "mixed",
        chip_size=sizes.pop() if len(sizes) == 1 else None, resolution=first.resolution,
        # No kind ratio: each source documents its own mix, a merged set has none.
        source={"format": "merged", "kind_ratio": None,
                "sources": [{"input": str(path), "format": m.source.get("format"), "band_names": list(m.band_names),
                             "kind_ratio": m.kind_ratio, "examples": m.to_json()["examples"],
                             "shard_prefix": f"s{index}-"}
                            for index, (path, m) in enumerate(zip(sources, manifests))]},
        pixels=pixels,
        imbalance_ratio={"before_augmentation": ratio("train_before_augmentation"),
                         "after_augmentation": ratio("train_after_augmentation")},
        config={}, created_by=f"lim-tf {__version__}")
