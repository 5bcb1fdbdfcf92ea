"""The manifest.json of a record set: what it holds, where, and its imbalance statistics.

`Manifest` is the contract between `data build` and every reader (training, evaluation, mapping's
Sentinel-2 preparation, export): readers go through `load_manifest` or `verify_records`, which
check the structure and name the file in a one-line error.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lim_tf.errors import InputError

# The records' layout (data/schema.py); kept here, beside the manifest that states it, so reading a
# manifest (data stats, data verify, the command line) needs no TensorFlow.
SCHEMA_VERSION = 2  # 2: chips keep their own size (native mode); the manifest holds the resolution

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class BandStatistics:
    """One band over the training folds' labelled pixels (what the network is normalised by)."""

    name: str
    mean: float
    std: float
    min: float
    max: float


@dataclass(frozen=True)
class ExampleCounts:
    """The chips of one group ("test" or "fold<k>") by kind; `augmented` of them are offline copies."""

    total: int
    landslide: int
    non_landslide: int
    augmented: int

    @property
    def originals(self) -> int:
        return self.total - self.augmented

    def __add__(self, other: ExampleCounts) -> ExampleCounts:
        return ExampleCounts(self.total + other.total, self.landslide + other.landslide,
                             self.non_landslide + other.non_landslide, self.augmented + other.augmented)


@dataclass(frozen=True)
class Manifest:
    """What a record set holds: bands, chips per split and fold, shards and their checksums."""

    band_names: tuple[str, ...]
    image_dtype: str  # of every record: uint8, uint16, int16 or float32
    folds: int  # 0: a test-only set
    band_statistics: tuple[BandStatistics, ...]  # per band over the training folds
    files: dict[str, list[str]]  # "test" and "fold<k>" -> shard file names
    examples: dict[str, ExampleCounts]  # the same groups -> chip counts by kind
    sha256: dict[str, str]  # shard file name -> checksum
    chip_mode: str = "native"
    chip_size: int | None = None  # None: chips keep their own size (native mode)
    resolution: float | None = None  # metres per pixel of every chip (None: the source's own)
    source: dict[str, Any] = field(default_factory=dict)  # format, input and the documented kind ratio
    pixels: dict[str, dict[str, int]] = field(default_factory=dict)
    imbalance_ratio: dict[str, float | None] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)  # the build's resolved DataConfig
    created_by: str = ""
    schema_version: int = SCHEMA_VERSION

    @property
    def kind_ratio(self) -> float | None:
        """Non-landslide per landslide sample in the source's real mix, where its documentation says."""
        return self.source.get("kind_ratio")

    @property
    def means(self) -> tuple[float, ...]:
        return tuple(band.mean for band in self.band_statistics)

    @property
    def stds(self) -> tuple[float, ...]:
        return tuple(band.std for band in self.band_statistics)

    def to_json(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        return {**data, "band_names": list(self.band_names), "band_statistics": list(data["band_statistics"])}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Manifest:
        """A manifest from checked JSON (load_manifest checks it)."""
        known = {f.name for f in dataclasses.fields(cls)}
        kept = {key: value for key, value in data.items() if key in known}
        statistics = tuple(BandStatistics(**{key: band[key] for key in ("mean", "std", "min", "max")},
                                          name=band.get("name", name))
                           for band, name in zip(kept["band_statistics"], kept["band_names"]))
        examples = {group: ExampleCounts(**{key: counts[key] for key in EXAMPLE_KEYS})
                    for group, counts in kept["examples"].items()}
        return cls(**{**kept, "band_names": tuple(kept["band_names"]), "band_statistics": statistics,
                      "examples": examples})


def load_manifest(directory: Path) -> Manifest:
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
    return Manifest.from_json(manifest)


DTYPES = ("uint8", "uint16", "int16", "float32")
EXAMPLE_KEYS = ("total", "landslide", "non_landslide", "augmented")


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
    groups = ["test"] + [f"fold{k}" for k in range(folds)]  # type: ignore[arg-type]
    files, examples = manifest.get("files"), manifest.get("examples")
    if not isinstance(files, dict) or set(files) != set(groups) or not all(
            isinstance(f, list) and all(isinstance(n, str) and "/" not in n for n in f) for f in files.values()):
        return f"files must list the shard names of {', '.join(groups)}"
    if not isinstance(examples, dict) or set(examples) != set(groups) or not all(
            isinstance(examples.get(g), dict) and all(is_count(examples[g].get(k)) for k in EXAMPLE_KEYS)
            for g in groups):
        return f"examples must count the chips of {', '.join(groups)}"
    checksums = manifest.get("sha256")
    if not isinstance(checksums, dict) or not all(isinstance(v, str) for v in checksums.values()):
        return "sha256 must map every shard to its checksum"
    return None


def verify_records(directory: Path) -> Manifest:
    """The manifest, once every shard it lists is present with the SHA-256 it records."""
    import hashlib

    manifest = load_manifest(Path(directory))
    for name in (f for files in manifest.files.values() for f in files):
        path = Path(directory) / name
        if not path.exists():
            raise InputError(f"{path}: listed in the manifest but missing; rebuild the records")
        expected = manifest.sha256.get(name)
        if expected is None:
            raise InputError(f"{path}: the manifest records no checksum for it; rebuild the records")
        if hashlib.sha256(path.read_bytes()).hexdigest() != expected:
            raise InputError(f"{path}: its contents differ from the manifest's checksum; rebuild the records")
    return manifest


def write_manifest(manifest: Manifest, directory: Path) -> None:
    """Write the manifest with sorted keys so identical builds give identical bytes."""
    (Path(directory) / MANIFEST).write_text(json.dumps(manifest.to_json(), indent=2, sort_keys=True) + "\n")


def imbalance_table(manifest: Manifest) -> str:
    """The paper's Table 2: landslide and non-landslide pixels and IR, before and after augmentation."""
    pixels = manifest.pixels
    ratios = manifest.imbalance_ratio
    rows = [("before augmentation", pixels["train_before_augmentation"], ratios["before_augmentation"]),
            ("after augmentation", pixels["train_after_augmentation"], ratios["after_augmentation"])]
    lines = ["training portion      landslide px  non-landslide px       IR",
             "--------------------  ------------  ----------------  -------"]
    for name, counts, ratio in rows:
        shown = f"{ratio:7.2f}" if ratio is not None else "    n/a"
        lines.append(f"{name:<20}  {counts['landslide']:>12,}  {counts['background']:>16,}  {shown}")
    examples = manifest.examples
    lines.append("")
    lines.append("split    examples  landslide  non-landslide  augmented")
    for split in sorted(examples, key=lambda s: (s != "test", s)):
        e = examples[split]
        lines.append(f"{split:<7}  {e.total:>8}  {e.landslide:>9}  {e.non_landslide:>13}  {e.augmented:>9}")
    return "\n".join(lines)
