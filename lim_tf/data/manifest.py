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
    except json.JSONDecodeError as error:
        raise InputError(f"{path}: not valid JSON ({error}); rebuild the records") from error
    if manifest.get("schema_version") != SCHEMA_VERSION:
        raise InputError(f"{path}: schema version {manifest.get('schema_version')} is not "
                         f"{SCHEMA_VERSION}; rebuild the records with this lim-tf")
    return manifest


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
