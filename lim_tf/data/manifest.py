"""The manifest.json of a record set: what it holds, where, and its imbalance statistics."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lim_tf.data.schema import SCHEMA_VERSION
from lim_tf.errors import InputError

MANIFEST = "manifest.json"


def load_manifest(directory: Path) -> dict[str, Any]:
    """Read OUT/manifest.json; a folder without one is not a record set."""
    path = Path(directory) / MANIFEST
    try:
        manifest = json.loads(path.read_text())
    except FileNotFoundError as error:
        raise InputError(f"{directory}: no {MANIFEST}; build records first with 'lim-tf data build'") from error
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InputError(f"{path}: not valid JSON ({error}); rebuild the records") from error
    except OSError as error:
        raise InputError(f"{path}: cannot read ({error.strerror}); check the record set") from error
    if not isinstance(manifest, dict):
        raise InputError(f"{path}: expected a JSON object, got a {type(manifest).__name__}; the manifest was edited "
                         "or damaged: rebuild the records")
    if manifest.get("schema_version") != SCHEMA_VERSION:
        version = manifest.get("schema_version")
        raise InputError(f"{path}: schema version {version} is not {SCHEMA_VERSION}; rebuild the records with this lim-tf")
    problem = _check(manifest)
    if problem:
        raise InputError(f"{path}: {problem}; the manifest was edited or damaged: rebuild the records")
    return manifest


DTYPES = ("uint8", "uint16", "int16", "float32")


def _check(manifest: dict[str, Any]) -> str | None:
    """What is wrong with a manifest's structure, or None: the keys everything else relies on."""
    def is_count(value: Any) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and value >= 0

    def is_number(value: Any) -> bool:
        return isinstance(value, (int, float)) and not isinstance(value, bool) and value == value

    bands = manifest.get("band_names")
    if not isinstance(bands, list) or not bands or not all(isinstance(b, str) for b in bands):
        return "band_names must be a list of band names"
    if manifest.get("image_dtype") not in DTYPES:
        return f"image_dtype must be one of {', '.join(DTYPES)}"
    folds = manifest.get("folds")
    if not is_count(folds) or folds == 1:
        return "folds must be 0 or a count of at least 2"
    if manifest.get("chip_size") is not None and not (is_count(manifest["chip_size"]) and manifest["chip_size"] > 0):
        return "chip_size must be a positive count or null"
    resolution = manifest.get("resolution")
    if resolution is not None and not (is_number(resolution) and 0 < resolution < 1e6):
        return "resolution must be a positive number of metres or null"
    statistics = manifest.get("band_statistics")
    if not isinstance(statistics, list) or len(statistics) != len(bands) or not all(
            isinstance(s, dict) and all(is_number(s.get(k)) for k in ("mean", "std", "min", "max")) for s in statistics):
        return "band_statistics must give mean, std, min and max for every band"
    groups = ["test"] + [f"fold{k}" for k in range(folds)]
    files, examples = manifest.get("files"), manifest.get("examples")
    if not isinstance(files, dict) or set(files) != set(groups) or not all(
            isinstance(f, list) and all(isinstance(n, str) and "/" not in n for n in f) for f in files.values()):
        return f"files must list the shard names of {', '.join(groups)}"
    if not isinstance(examples, dict) or not all(
            isinstance(examples.get(g), dict) and all(is_count(examples[g].get(k)) for k in
                                                      ("total", "landslide", "non_landslide", "augmented"))
            for g in groups):
        return f"examples must count the chips of {', '.join(groups)}"
    checksums = manifest.get("sha256")
    if not isinstance(checksums, dict) or not all(isinstance(v, str) for v in checksums.values()):
        return "sha256 must map every shard to its checksum"
    return None


def verify_records(directory: Path) -> dict[str, Any]:
    """The manifest, once every shard it lists is present with the SHA-256 it records."""
    import hashlib

    manifest = load_manifest(Path(directory))
    for name in (f for files in manifest["files"].values() for f in files):
        path = Path(directory) / name
        if not path.exists():
            raise InputError(f"{path}: listed in the manifest but missing; rebuild the records")
        expected = manifest.get("sha256", {}).get(name)
        if expected is None:
            raise InputError(f"{path}: the manifest records no checksum for it; rebuild the records")
        if hashlib.sha256(path.read_bytes()).hexdigest() != expected:
            raise InputError(f"{path}: its contents differ from the manifest's checksum; rebuild the records")
    return manifest


def write_manifest(manifest: dict[str, Any], directory: Path) -> None:
    """Write the manifest with sorted keys so identical builds give identical bytes."""
    (Path(directory) / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")


def imbalance_table(manifest: dict[str, Any]) -> str:
    """The paper's Table 2: landslide and non-landslide pixels and IR, before and after augmentation."""
    pixels = manifest["pixels"]
    ratios = manifest["imbalance_ratio"]
    rows = [("before augmentation", pixels["train_before_augmentation"], ratios["before_augmentation"]),
            ("after augmentation", pixels["train_after_augmentation"], ratios["after_augmentation"])]
    lines = ["training portion      landslide px  non-landslide px       IR",
             "--------------------  ------------  ----------------  -------"]
    for name, counts, ratio in rows:
        shown = f"{ratio:7.2f}" if ratio is not None else "    n/a"
        lines.append(f"{name:<20}  {counts['landslide']:>12,}  {counts['background']:>16,}  {shown}")
    examples = manifest["examples"]
    lines.append("")
    lines.append("split    examples  landslide  non-landslide  augmented")
    for split in sorted(examples, key=lambda s: (s != "test", s)):
        e = examples[split]
        lines.append(f"{split:<7}  {e['total']:>8}  {e['landslide']:>9}  {e['non_landslide']:>13}  {e['augmented']:>9}")
    return "\n".join(lines)
