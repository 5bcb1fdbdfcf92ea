"""Frozen configuration dataclasses, one per stage, with strict YAML/dict loading."""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml

from lim_tf.errors import ConfigError


def _require(config: Any, rules: dict[str, tuple[Any, str]]) -> None:
    """Raise ConfigError for the first field whose value breaks its rule: {field: (test, 'must be ...')}."""
    for name, (test, wanted) in rules.items():
        value = getattr(config, name)
        try:
            ok = bool(test(value))
        except (TypeError, ValueError):
            ok = False
        if not ok:
            raise ConfigError(f"{name} must be {wanted}, got {value!r}")


def _positive(value: Any) -> bool:
    return value > 0 and math.isfinite(value)


def _optional(test):
    return lambda value: value is None or test(value)


def _only_with(pairs: list[tuple[bool, str, str]]) -> None:
    """Refuse an option given without the one it acts with: (given without it, option, what it needs)."""
    for alone, option, needs in pairs:
        if alone:
            raise ConfigError(f"{option} acts only with {needs}; add that or drop {option.split(' ')[0]} "
                              "(it would be ignored)")

SourceFormat = Literal["bijie", "folder", "l4s", "geotiff"]
ChipMode = Literal["native", "resize", "grid"]
RecipeName = Literal["lr_flip_mean", "ud_flip_gamma", "mirror_noise"]
ALL_RECIPES: tuple[RecipeName, ...] = ("lr_flip_mean", "ud_flip_gamma", "mirror_noise")


@dataclass(frozen=True)
class SourceConfig:
    """Where samples come from and how their files are read."""

    format: SourceFormat = "bijie"
    # Band selection: names ("B4,B3,B2") or 1-based indices ("1,2,3"), as GDAL numbers bands.
    bands: tuple[str, ...] = ()
    # Mask value map as (value, class) pairs; class is landslide, background or ignore.
    mask_values: tuple[tuple[int, str], ...] = ()
    include_dem: bool = False
    labels: str | None = None  # geotiff: label raster or vector inventory (file mode)
    nodata: float | None = None  # overrides the raster's own nodata value
    # Pixel size of the input in metres when its files do not say (GeoTIFFs carry their own);
    # None: the format's known value (Bijie 0.8 m, Landslide4Sense 10 m) or unknown.
    resolution: float | None = None
    # geotiff with a vector inventory: read its `review` column (an analyst's corrections of a map)
    review: bool = False
    labelled_area: str | None = None  # review: polygons of the labelled ground (default: reviewed ones + margin)
    review_margin: float = 30.0  # review: metres around reviewed polygons that count as labelled ground

    def __post_init__(self) -> None:
        _require(self, {"resolution": (_optional(_positive), "a positive number of metres"),
                        "review_margin": (lambda v: 0 <= v <= 1e5, "0..100000 metres")})
        geotiff = self.format == "geotiff"
        _only_with([(bool(self.labels) and not geotiff, "--labels (source.labels)", "--format geotiff"),
                    (self.review and not geotiff, "--review (source.review)", "--format geotiff"),
                    (bool(self.labelled_area) and not self.review, "--labelled-area (source.labelled_area)",
                     "--review"),
                    (self.review_margin != 30.0 and not self.review, "--review-margin (source.review_margin)",
                     "--review"),
                    (bool(self.labelled_area) and self.review_margin != 30.0,
                     "--review-margin (source.review_margin)", "the default labelled area (not --labelled-area)"),
                    (self.include_dem and self.format != "bijie", "--include-dem (source.include_dem)",
                     "--format bijie")])


@dataclass(frozen=True)
class ChipConfig:
    """How samples become chips.

    native (default): each sample is kept whole at one ground resolution (`resolution`, or the
      source's own), so a landslide keeps its true size in pixels, as in a scene `lim-tf map` sees.
    grid: as native, then cut into size x size chips on a grid (for large scenes).
    resize: every sample resized to size x size, as the FCN-FL paper did. This hands the network
      a size cue no scene offers (chips are cropped around their landslide); kept to reproduce it.
    """

    mode: ChipMode = "native"
    size: int = 256  # resize: every chip's size; grid: the chip size
    stride: int | None = None  # grid stride when cutting; defaults to size
    resolution: float | None = None  # metres per pixel to resample to; None keeps the source's

    def __post_init__(self) -> None:
        _require(self, {"size": (lambda v: 8 <= v <= 65536, "a chip size of 8..65536 pixels"),
                        "stride": (_optional(lambda v: v >= 1), "at least 1"),
                        "resolution": (_optional(_positive), "a positive number of metres")})
        _only_with([(self.stride is not None and self.mode != "grid", "--stride (chip.stride)", "--chip-mode grid")])


@dataclass(frozen=True)
class SplitConfig:
    """The held-out test split and the K folds over the rest.

    Test shares are a count (an int: 70 as in the paper) or a fraction (a float in 0..1; 1.0 is all).
    Non-landslide samples are held out in the same share as landslide samples unless given, so the
    test split holds both kinds in the dataset's ratio. folds=0 makes a test-only record set
    (every sample held out), e.g. for scoring a model on another region.
    """

    test_landslide: int | float = 0.1
    test_non_landslide: int | float | None = None  # None: the landslide share
    folds: int = 5
    seed: int = 0

    def __post_init__(self) -> None:
        _require(self, {"test_landslide": (lambda v: v >= 0 and math.isfinite(v), "a count or a fraction >= 0"),
                        "test_non_landslide": (_optional(lambda v: v >= 0 and math.isfinite(v)),
                                               "a count or a fraction >= 0"),
                        "folds": (lambda v: v == 0 or v >= 2, "0 (a test-only set) or at least 2")})


@dataclass(frozen=True)
class AugmentConfig:
    """Offline augmentation of training landslide samples (the paper's three recipes)."""

    recipes: tuple[RecipeName, ...] = ALL_RECIPES
    copies: int = 1  # copies per recipe and sample; ignored when target_ir is set
    target_ir: float | None = None  # augment until the training IR is at most this
    max_copies: int = 12  # per sample, a bound for target_ir
    mean_kernel: int = 3
    gamma_range: tuple[float, float] = (0.7, 1.5)
    noise_std: float = 0.03  # as a fraction of each band's range
    seed: int = 0

    def __post_init__(self) -> None:
        _require(self, {"copies": (lambda v: v >= 0, "0 or more"),
                        "target_ir": (_optional(_positive), "a positive ratio"),
                        "max_copies": (lambda v: 1 <= v <= 1000, "1..1000"),
                        "mean_kernel": (lambda v: v >= 1 and v % 2 == 1 and v <= 99, "an odd size of 1..99"),
                        "gamma_range": (lambda v: 0 < v[0] <= v[1] and math.isfinite(v[1]), "0 < low <= high"),
                        "noise_std": (lambda v: 0 <= v <= 10, "0..10")})
        _only_with([(self.max_copies != 12 and self.target_ir is None, "--max-copies (augment.max_copies)",
                     "--target-ir"),
                    (self.copies != 1 and self.target_ir is not None, "--copies (augment.copies)",
                     "fixed copies, not --target-ir (which sets the copies itself)")])


@dataclass(frozen=True)
class DataConfig:
    """Everything `lim-tf data build` needs besides the input and output paths."""

    source: SourceConfig = field(default_factory=SourceConfig)
    chip: ChipConfig = field(default_factory=ChipConfig)
    split: SplitConfig = field(default_factory=SplitConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    examples_per_shard: int = 512


def to_dict(config: Any) -> dict[str, Any]:
    """A plain, YAML-friendly dict of a config dataclass (tuples become lists)."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if dataclasses.is_dataclass(value):
            out[f.name] = to_dict(value)
        elif isinstance(value, tuple):
            out[f.name] = [list(v) if isinstance(v, tuple) else v for v in value]
        else:
            out[f.name] = value
    return out


def from_dict(cls: type, data: dict[str, Any], where: str = "config") -> Any:
    """Build config dataclass `cls` from a mapping; unknown keys and bad literals are errors."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; valid keys are "
                          f"{', '.join(sorted(names))}")
    kwargs = {key: _coerce(hints[key], value, f"{where}.{key}") for key, value in data.items()}
    try:
        return cls(**kwargs)
    except ConfigError as error:
        raise ConfigError(f"{where}: {error}") from error


def _coerce(hint: Any, value: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return from_dict(hint, value, where)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        if int in inner and float in inner and isinstance(value, (int, float)) and not isinstance(value, bool):
            return value  # a count (int) and a fraction (float) mean different things
        return _coerce(inner[0], value, where)
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"{where}: {value!r} is not one of {', '.join(map(str, args))}")
        return value
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(args[0], v, where) for v in value)
        return tuple(_coerce(a, v, where) for a, v in zip(args, value))
    if hint is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if hint is float:
        raise ConfigError(f"{where}: expected a number, got {value!r}")
    if hint in (int, str, bool) and (not isinstance(value, hint) or (hint is int and isinstance(value, bool))):
        raise ConfigError(f"{where}: expected {hint.__name__}, got {value!r}")
    return value


def read_yaml(path: str | Path) -> Any:
    """A YAML file's content (safe loader: no Python objects), or a one-line error naming the file."""
    try:
        return yaml.safe_load(Path(path).read_text()) or {}
    except OSError as error:
        raise ConfigError(f"{path}: cannot read config ({error.strerror})") from error
    except UnicodeDecodeError as error:
        raise ConfigError(f"{path}: not a text file ({error.reason}); give a YAML config") from error
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error).splitlines()[0]
        raise ConfigError(f"{path}: not valid YAML ({problem}{where}); fix the file") from error


def load_yaml(cls: type, path: str | Path) -> Any:
    """Read a config dataclass from a YAML file, strictly."""
    return from_dict(cls, read_yaml(path), str(path))


def dump_yaml(config: Any, path: str | Path) -> None:
    """Write a config dataclass as YAML."""
    Path(path).write_text(yaml.safe_dump(to_dict(config), sort_keys=False))


ModelName = Literal["fcn", "fcn-fl", "unet", "segnet"]
LossName = Literal["bce", "weighted_bce", "focal"]
AlphaFor = Literal["landslide", "background"]
OptimizerName = Literal["adam", "sgd"]
Monitor = Literal["val_loss", "val_f1", "val_best_f1"]
Precision = Literal["auto", "float32", "mixed_bfloat16", "mixed_float16"]
Xla = Literal["auto", "on", "off"]
Distribute = Literal["auto", "mirrored", "none"]
Schedule = Literal["constant", "cosine"]
Split = Literal["test", "val", "all"]  # eval: the held-out test split, a fold's validation fold, or all folds
ThresholdRule = Literal["run", "optimal"]  # eval: the run's own threshold, or F1-optimal on validation
ExportFormat = Literal["savedmodel", "onnx"]


@dataclass(frozen=True)
class LossConfig:
    """The training loss. See lim_tf.training.losses.focal_loss for the alpha convention."""

    name: LossName = "focal"
    alpha: float | None = 0.25
    gamma: float = 1.75
    alpha_for: AlphaFor = "background"  # background: the paper's reading
    landslide_weight: float | None = None  # weighted_bce; None: the training IR after augmentation
    tversky_weight: float = 0.0  # adds a Dice/Tversky term when > 0

    def __post_init__(self) -> None:
        _require(self, {"alpha": (_optional(lambda v: 0 <= v <= 1), "in 0..1 or null"),
                        "gamma": (lambda v: 0 <= v <= 20, "in 0..20"),
                        "landslide_weight": (_optional(_positive), "positive or null"),
                        "tversky_weight": (lambda v: 0 <= v <= 1e3, "0 or more")})


@dataclass(frozen=True)
class TrainConfig:
    """One training run: architecture, loss, schedule, folds, precision and distribution."""

    preset: str = "fcn-fl"
    model: ModelName = "fcn-fl"
    width: float = 1.0
    loss: LossConfig = field(default_factory=LossConfig)
    epochs: int = 50
    batch_size: int = 8  # global: split over replicas
    learning_rate: float = 1e-4
    optimizer: OptimizerName = "adam"
    folds: tuple[int, ...] = (0,)  # empty: every fold of the records (the K-fold ensemble)
    # What picks the best epoch: the validation F1 at its best threshold (validation folds hold
    # both kinds of chips), so the epoch kept is the one that maps best, not the lowest loss.
    monitor: Monitor = "val_best_f1"
    encoder_weights: str | None = None  # "imagenet" (from the Keras cache) or a weights file
    encoder_bn: bool = False  # batch normalisation in the encoder (VGG16-BN): for training from scratch
    precision: Precision = "auto"
    xla: Xla = "auto"  # the training step compiled with XLA; see lim_tf.models.xla
    distribute: Distribute = "auto"
    cpu_replicas: int = 0  # > 1: mirror over that many logical CPU devices (for tests)
    augment: bool = True  # online flips and rotations
    steps_per_epoch: int | None = None  # None: as many batches as the training folds hold chips
    # Training tiles: each chip is scale-jittered, then cropped (or padded with ignored pixels) to
    # tile x tile. Larger tiles give the network more context per step, at more cost per step.
    tile: int = 256
    landslide_share: float | None = 0.5  # share of landslide chips per batch; None: as the records hold
    photometric: bool = True  # online brightness, contrast, gamma, blur and noise (image only)
    scale_jitter: float = 1.25  # chips are rescaled by a factor in [1/s, s]; 1 turns it off
    schedule: Schedule = "cosine"  # cosine decay after a linear warm-up
    warmup_epochs: int = 1
    patience: int | None = None  # stop a fold after this many validations without improvement
    validation_every: int = 1  # validate every k epochs (the best model is picked among those)
    threshold: float = 0.5
    log_images: int = 3  # validation images shown in TensorBoard
    seed: int = 0
    # Seconds of training per fold: the first epoch is timed and the epochs are fixed to end within
    # it (`epochs` is then the upper bound). None: train `epochs` epochs. See lim_tf.training.budget.
    time_budget: float | None = None
    # Adaptation: start every weight from a run folder, a .keras file or a shipped model's name; the
    # architecture is then the source's. See lim_tf.training.adapt for the normalisation rule.
    init_from: str | None = None
    freeze_encoder_epochs: int = 0  # with init_from: train only the decoder for this many epochs first
    keep_normalization: bool = False  # with init_from: keep the source's band statistics, not the records'
    trust_model: bool = False  # with init_from: load a source that carries Python code (see models.load_model)

    def __post_init__(self) -> None:
        _require(self, {"width": (lambda v: 0 < v <= 8, "a width multiplier in (0, 8]"),
                        "epochs": (lambda v: 0 <= v <= 100000, "at least 1 (0: with init_from, no training)"),
                        "batch_size": (lambda v: 1 <= v <= 4096, "1..4096"),
                        "learning_rate": (lambda v: 0 < v <= 10, "in (0, 10]"),
                        "folds": (lambda v: all(k >= 0 for k in v), "fold numbers >= 0"),
                        "cpu_replicas": (lambda v: v >= 0, "0 or more"),
                        "steps_per_epoch": (_optional(lambda v: v >= 1), "at least 1 or null"),
                        "tile": (lambda v: 8 <= v <= 16384, "a tile of 8..16384 pixels"),
                        "landslide_share": (_optional(lambda v: 0 <= v <= 1), "in 0..1 or null"),
                        "scale_jitter": (lambda v: 1 <= v <= 4, "in 1..4"),
                        "warmup_epochs": (lambda v: v >= 0, "0 or more"),
                        "patience": (_optional(lambda v: v >= 1), "at least 1 or null"),
                        "validation_every": (lambda v: v >= 1, "at least 1"),
                        "threshold": (lambda v: 0 <= v <= 1, "in 0..1"),
                        "log_images": (lambda v: 0 <= v <= 100, "0..100"),
                        "freeze_encoder_epochs": (lambda v: 0 <= v <= self.epochs, "0..epochs"),
                        "time_budget": (_optional(lambda v: 0 < v <= 30 * 86400), "seconds in (0, 30 days] or null")})
        _only_with([(self.freeze_encoder_epochs > 0 and not self.init_from,
                     "--freeze-encoder-epochs (freeze_encoder_epochs)", "--init-from"),
                    (self.keep_normalization and not self.init_from, "--keep-normalization (keep_normalization)",
                     "--init-from"),
                    (self.trust_model and not self.init_from, "--trust-model (trust_model)", "--init-from"),
                    (self.epochs == 0 and not self.init_from, "--epochs 0 (epochs)",
                     "--init-from (no training: a finished model calibrated on RECORDS)")])


FOCAL = LossConfig()
CROSS_ENTROPY = LossConfig(name="bce", alpha=None, gamma=0.0)

# The CPU recipe: what the experiments on the Bijie development set favour within 60 minutes on a
# 2-core CPU (benchmarks/README.md), for records built at 1.6 m (data build --resolution 1.6).
# Its length is a budget, not an epoch count: the same epochs take about four times longer on an
# AVX2-only CPU than on one with bfloat16 units, and the hour is what the user plans around.
CPU_RECIPE: dict[str, Any] = {"model": "unet", "loss": CROSS_ENTROPY, "width": 0.25, "encoder_bn": True, "tile": 128,
                              "batch_size": 16, "learning_rate": 1e-3, "epochs": 96, "time_budget": 3600.0,
                              # Validating every third epoch keeps the validation passes to about 4 % of
                              # the fit time (benchmarks/bench_fit.py: the fit loop runs 0.85-0.89 of the bare
                              # step on a 2-core Xeon); the budget rounds the epochs to a multiple of it,
                              # so the last epoch is scored.
                              "validation_every": 3}

# The paper's five configurations and the CPU recipe; settings from YAML or the command line override these.
PRESETS: dict[str, dict[str, Any]] = {
    "cpu": CPU_RECIPE,
    "fcn": {"model": "fcn", "loss": CROSS_ENTROPY},
    "fcn-fl": {"model": "fcn-fl", "loss": FOCAL},
    "fcn-flk": {"model": "fcn-fl", "loss": FOCAL, "folds": ()},
    "unet": {"model": "unet", "loss": CROSS_ENTROPY},
    "segnet": {"model": "segnet", "loss": CROSS_ENTROPY},
}


ADAPTATION_RATE_DIVISOR = 10  # --init-from without --learning-rate: the preset's rate / 10


def resolve_train_config(preset: str, yaml_path: str | Path | None = None,
                         overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Preset, then YAML, then overrides (keys may be dotted: 'loss.gamma')."""
    if preset not in PRESETS:
        raise ConfigError(f"unknown preset {preset!r}; choose from {', '.join(PRESETS)}")
    data = to_dict(TrainConfig(preset=preset, **PRESETS[preset]))
    if yaml_path:
        loaded = read_yaml(yaml_path)
        if not isinstance(loaded, dict):
            raise ConfigError(f"{yaml_path}: expected a mapping of settings, got {type(loaded).__name__}")
        from_dict(TrainConfig, {**data, **loaded}, str(yaml_path))  # strict check of the file's keys
        data = _merge(data, loaded)
    _set_dotted(data, overrides or {})
    given = set(overrides or {}) | (set(loaded) if yaml_path else set())
    if "epochs" in given and "time_budget" not in given:
        data["time_budget"] = None  # an epoch count given on its own wins over the preset's budget
    if data.get("init_from") and "learning_rate" not in given:
        data["learning_rate"] = data["learning_rate"] / ADAPTATION_RATE_DIVISOR  # fine-tuning: small steps
    return from_dict(TrainConfig, data, "training config")


def resolve_data_config(yaml_path: str | Path | None = None, overrides: dict[str, Any] | None = None,
                        test_only: bool = False) -> DataConfig:
    """Defaults, then YAML, then overrides (dotted keys: 'split.folds'); `test_only` holds every
    sample out (a test-only record set, e.g. another region to score a model on)."""
    data = to_dict(DataConfig())
    if yaml_path:
        loaded = read_yaml(yaml_path)
        if not isinstance(loaded, dict):
            raise ConfigError(f"{yaml_path}: expected a mapping of settings, got {type(loaded).__name__}")
        from_dict(DataConfig, _merge(data, loaded), str(yaml_path))  # strict check of the file's keys
        data = _merge(data, loaded)
    _set_dotted(data, overrides or {})
    if test_only:
        data["split"].update(test_landslide=1.0, test_non_landslide=1.0, folds=0)
    return from_dict(DataConfig, data, "data config")


def _set_dotted(data: dict[str, Any], overrides: dict[str, Any]) -> None:
    for key, value in overrides.items():
        section, _, leaf = key.rpartition(".")
        target = data
        for part in section.split(".") if section else ():
            target = target[part]
        target[leaf] = value


def _merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in update.items():
        merged[key] = _merge(base[key], value) if isinstance(value, dict) and isinstance(base.get(key), dict) else value
    return merged
