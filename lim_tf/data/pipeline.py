"""The tf.data input pipeline: records -> training tiles, or whole chips for validation and test."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Literal

import numpy as np

from lim_tf.data.manifest import Manifest, load_manifest
from lim_tf.data.sample import IGNORE, LANDSLIDE
from lim_tf.data.schema import COMPRESSION, FEATURES, parse_example
from lim_tf.data.transforms import flip_rotate, jittered_tile, photometric
from lim_tf.errors import ConfigError, InputError
from lim_tf.runtime.quiet import tf

log = logging.getLogger(__name__)
Split = Literal["train", "val", "test", "all"]


@dataclass(frozen=True)
class PipelineConfig:
    """How batches are made."""

    batch_size: int = 8
    tile: int = 256  # training tiles are tile x tile (chips are cropped or padded with ignored pixels)
    landslide_share: float | None = 0.5  # share of landslide chips drawn per batch; None: as stored
    augment: bool = True  # online joint flips and 90-degree rotations (training only)
    photometric: bool = True  # online gamma, contrast, brightness, blur and noise (training only)
    scale_jitter: float = 1.25  # rescale training chips by a factor in [1/s, s]; 1: off
    shuffle_buffer: int = 512
    deterministic: bool = False  # same batches in the same order on every run
    seed: int = 0
    cache: bool = True  # keep decoded chips in memory after the first pass (training only)
    # Whole chips of different sizes are padded to a multiple of 32 with their band means (what the
    # model pads with, so predictions do not change; the padding is ignored) and batched by that
    # shape, up to this many. Several replicas need one chip each per batch: chips are then padded
    # to the largest in their batch instead.
    whole_chips_per_batch: int = 8
    replicas: int = 1


def record_files(directory: Path, manifest: Manifest, split: Split, fold: int | None) -> list[Path]:
    """Files of a split: train = every fold but `fold`; val = fold `fold`; test; all = every fold."""
    folds = manifest.folds
    if fold is not None and not 0 <= fold < folds:
        raise ConfigError(f"fold {fold} is out of range; the records have folds 0..{folds - 1}")
    if split == "val" and fold is None:
        raise ConfigError("the validation split needs a fold")
    files = [Path(directory) / f for name in split_groups(split, fold, folds) for f in manifest.files[name]]
    if split == "test" and manifest.examples["test"].total == 0:
        raise InputError(f"{directory}: the records have no test split; rebuild with --test-landslide > 0")
    if split != "test" and not files:
        raise InputError(f"{directory}: a test-only record set has no folds to train or validate on")
    missing = [f for f in files if not f.exists()]
    if missing:
        raise InputError(f"{missing[0]}: record file listed in the manifest is missing; rebuild the records")
    return files


def split_groups(split: Split, fold: int | None, folds: int) -> list[str]:
    """The record groups (test, fold0..) that make up a split."""
    if split == "test":
        return ["test"]
    if split == "val":
        return [f"fold{fold}"]
    return [f"fold{k}" for k in range(folds) if split == "all" or k != fold]


def count_examples(manifest: Manifest, split: Split, fold: int | None, kind: str = "total") -> int:
    """Examples in a split: total, landslide or non_landslide."""
    return sum(getattr(manifest.examples[name], kind) for name in split_groups(split, fold, manifest.folds))


def make_dataset(directory: Path, split: Split = "train", fold: int | None = None,
                 config: PipelineConfig = PipelineConfig(), epochs: range | None = None,
                 steps: int | None = None) -> tf.data.Dataset:
    """Batches of (image float32 [B,H,W,C], target float32 [B,H,W,1], weight float32 [B,H,W]).

    Targets are 1 for landslide pixels; weights are 0 for ignored pixels (nodata, padding).
    Training splits ('train', 'all') repeat forever as tile x tile batches, shuffled, drawn by
    chip kind and augmented; with `epochs` and `steps` they hold `steps` batches for each of those
    epochs, each epoch drawn from (seed, epoch) alone, so training resumed at any epoch meets the
    batches an uninterrupted run would have; 'val' and 'test' give every original chip once (offline augmented
    copies would skew the kinds' ratio), whole, in record order (one chip per batch when chips
    differ in size).
    """
    manifest = load_manifest(Path(directory))
    files = [str(f) for f in record_files(Path(directory), manifest, split, fold)]
    options = tf.data.Options()
    options.deterministic = config.deterministic
    if split in ("train", "all"):
        records = _records(files, manifest)
        if config.cache:
            records = records.cache()  # decoded chips in their stored dtype, shared by every epoch's stream
        if epochs is None:
            dataset = _training(records, manifest, split, fold, config)
        else:
            streams = [_training(records, manifest, split, fold, replace(config, seed=_epoch_seed(config.seed, epoch)))
                       .take(steps) for epoch in epochs]
            dataset = streams[0] if streams else records.take(0)
            for stream in streams[1:]:
                dataset = dataset.concatenate(stream)
    else:
        dataset = _whole_chips(_records(files, manifest), manifest, split, fold, config, files)
    return dataset.prefetch(tf.data.AUTOTUNE).with_options(options)


def _records(files: list[str], manifest: Manifest) -> tf.data.Dataset:
    dtype, channels = tf.as_dtype(manifest.image_dtype), len(manifest.band_names)
    dataset = tf.data.TFRecordDataset(files, compression_type=COMPRESSION, num_parallel_reads=min(len(files), 8))
    return dataset.map(lambda r: parse_example(r, dtype, channels), num_parallel_calls=tf.data.AUTOTUNE)


def _statistics(manifest: Manifest) -> dict[str, tf.Tensor]:
    stats = manifest.band_statistics
    return {key: tf.constant(np.array([getattr(s, key) for s in stats], np.float32))
            for key in ("mean", "std", "min", "max")}


def _epoch_seed(seed: int, epoch: int) -> int:
    return seed + 7919 * epoch  # a prime apart, so epochs of neighbouring folds (seed + fold) do not meet


def _training(records: tf.data.Dataset, manifest: Manifest, split: Split, fold: int | None,
              config: PipelineConfig) -> tf.data.Dataset:
    def stream(dataset: tf.data.Dataset, offset: int) -> tf.data.Dataset:
        return dataset.shuffle(config.shuffle_buffer, seed=config.seed + offset, reshuffle_each_iteration=True).repeat()

    share = config.landslide_share
    kinds = count_examples(manifest, split, fold, "landslide"), count_examples(manifest, split, fold, "non_landslide")
    if share is not None and 0 < share < 1 and min(kinds) == 0:
        log.warning("the training folds hold only one kind of chip; drawing them as stored")
        share = None
    if share is None:
        chips = stream(records, 0)
    else:
        landslide = stream(records.filter(lambda x: x["is_landslide"]), 0)
        background = stream(records.filter(lambda x: tf.logical_not(x["is_landslide"])), 1)
        chips = tf.data.Dataset.sample_from_datasets([landslide, background], [share, 1 - share],
                                                     seed=config.seed + 2)
    stats = _statistics(manifest)
    tile_seeds = tf.data.Dataset.random(seed=config.seed + 3).batch(2)
    tiles = tf.data.Dataset.zip((chips, tile_seeds)).map(
        lambda x, seed: jittered_tile(x["image"], x["mask"], seed, config.tile, config.scale_jitter, stats["mean"]),
        num_parallel_calls=tf.data.AUTOTUNE)
    batches = tiles.batch(config.batch_size, drop_remainder=True, num_parallel_calls=tf.data.AUTOTUNE)
    batch_seeds = tf.data.Dataset.random(seed=config.seed + 4).batch(2)
    return tf.data.Dataset.zip((batches, batch_seeds)).map(
        lambda tile, seed: _training_batch(tile[0], tile[1], seed, stats, config), num_parallel_calls=tf.data.AUTOTUNE)


def _training_batch(images: tf.Tensor, masks: tf.Tensor, seed: tf.Tensor, stats: dict[str, tf.Tensor],
                    config: PipelineConfig) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    seeds = tf.random.experimental.stateless_split(seed, 2)
    if config.augment:
        images, masks = flip_rotate(images, masks, seeds[0])
    if config.photometric:
        images = photometric(images, seeds[1], stats["mean"], stats["std"], stats["min"], stats["max"])
    return _to_targets(images, masks)


def _whole_chips(records: tf.data.Dataset, manifest: Manifest, split: Split, fold: int | None,
                 config: PipelineConfig, files: list[str]) -> tf.data.Dataset:
    dataset = records.filter(lambda x: tf.logical_not(x["augmented"]))
    dataset = dataset.map(lambda x: _to_targets(tf.cast(x["image"], tf.float32), x["mask"]),
                          num_parallel_calls=tf.data.AUTOTUNE)
    chips = count_examples(manifest, split, fold) - count_examples(manifest, split, fold, "augmented")
    if manifest.chip_size:
        dataset = dataset.batch(config.batch_size, num_parallel_calls=tf.data.AUTOTUNE)
        # A known length gives Keras a progress-bar total and a clean end of epoch.
        return dataset.apply(tf.data.experimental.assert_cardinality(-(-chips // config.batch_size)))
    if config.replicas > 1:
        return dataset.padded_batch(config.replicas)
    means = _statistics(manifest)["mean"]
    dataset = dataset.map(lambda image, target, weight: _pad_to_32(image, target, weight, means),
                          num_parallel_calls=tf.data.AUTOTUNE)
    size = config.whole_chips_per_batch
    dataset = dataset.group_by_window(lambda image, *_: tf.cast(tf.shape(image)[0] * 100000 + tf.shape(image)[1],
                                                                tf.int64),
                                      lambda _, window: window.batch(size), window_size=size)
    # Each padded shape gives ceil(chips / size) batches: a known length, so Keras ends each
    # validation pass cleanly (counted from the records' sizes, without decoding an image).
    return dataset.apply(tf.data.experimental.assert_cardinality(_grouped_batches(files, size)))


def _grouped_batches(files: list[str], size: int) -> int:
    """Batches of up to `size` original chips of one padded shape that the records' chips make."""
    features = {key: FEATURES[key] for key in ("image/height", "image/width", "sample/augmentation")}
    sizes = tf.data.TFRecordDataset(files, compression_type=COMPRESSION).map(
        lambda r: tf.io.parse_single_example(r, features), num_parallel_calls=tf.data.AUTOTUNE)
    shapes: dict[tuple[int, int], int] = {}
    for x in sizes.as_numpy_iterator():
        if x["sample/augmentation"] == b"none":
            key = (-(-int(x["image/height"]) // 32), -(-int(x["image/width"]) // 32))
            shapes[key] = shapes.get(key, 0) + 1
    return sum(-(-count // size) for count in shapes.values())


def _pad_to_32(image: tf.Tensor, target: tf.Tensor, weight: tf.Tensor,
               means: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """Pad bottom and right to a multiple of 32: image with band means, target 0, weight 0."""
    pad = (-tf.shape(image)[:2]) % 32
    paddings = [[0, pad[0]], [0, pad[1]]]
    image = tf.pad(image - means, paddings + [[0, 0]]) + means
    return image, tf.pad(target, paddings + [[0, 0]]), tf.pad(weight, paddings)


def _to_targets(image: tf.Tensor, mask: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    target = tf.cast(tf.equal(mask, LANDSLIDE), tf.float32)[..., None]
    weight = tf.cast(tf.not_equal(mask, IGNORE), tf.float32)
    return image, target, weight
