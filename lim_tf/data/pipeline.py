"""The tf.data input pipeline: records -> (image, target, weight) batches for training."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import tensorflow as tf

from lim_tf.augment import random_flip_rotate
from lim_tf.data.manifest import load_manifest
from lim_tf.data.sample import IGNORE, LANDSLIDE
from lim_tf.data.schema import COMPRESSION, parse_example
from lim_tf.errors import ConfigError, InputError

Split = Literal["train", "val", "test", "all"]


@dataclass(frozen=True)
class PipelineConfig:
    """How batches are made."""

    batch_size: int = 8
    shuffle_buffer: int = 512
    augment: bool = True  # online joint flips and 90-degree rotations (training split only)
    deterministic: bool = False  # same batches in the same order on every run
    seed: int = 0
    cache: bool = False  # keep decoded chips in memory after the first epoch


def record_files(directory: Path, manifest: dict[str, Any], split: Split, fold: int | None) -> list[Path]:
    """Files of a split: train = every fold but `fold`; val = fold `fold`; test; all = every fold."""
    folds = manifest["folds"]
    if fold is not None and not 0 <= fold < folds:
        raise ConfigError(f"fold {fold} is out of range; the records have folds 0..{folds - 1}")
    if split == "val" and fold is None:
        raise ConfigError("the validation split needs a fold")
    files = [Path(directory) / f for name in split_groups(split, fold, folds) for f in manifest["files"][name]]
    if split == "test" and manifest["examples"]["test"]["total"] == 0:
        raise InputError(f"{directory}: the records have no test split; rebuild with --test-landslide > 0")
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


def make_dataset(directory: Path, split: Split = "train", fold: int | None = None,
                 config: PipelineConfig = PipelineConfig(), repeat: bool = False) -> tf.data.Dataset:
    """Batches of (image float32 [B,S,S,C], target float32 [B,S,S,1], weight float32 [B,S,S]).

    Targets are 1 for landslide pixels; weights are 0 for ignored pixels (nodata, padding).
    Shuffling and online augmentation apply to the training split only.
    """
    manifest = load_manifest(Path(directory))
    files = [str(f) for f in record_files(Path(directory), manifest, split, fold)]
    size, channels = manifest["chip_size"], len(manifest["band_names"])
    dtype = tf.as_dtype(manifest["image_dtype"])
    training = split in ("train", "all")
    options = tf.data.Options()
    options.deterministic = config.deterministic

    dataset = tf.data.TFRecordDataset(files, compression_type=COMPRESSION,
                                      num_parallel_reads=min(len(files), 8))
    dataset = dataset.map(lambda r: parse_example(r, dtype, size, channels),
                          num_parallel_calls=tf.data.AUTOTUNE)
    if config.cache:
        dataset = dataset.cache()
    if training:
        dataset = dataset.shuffle(config.shuffle_buffer, seed=config.seed, reshuffle_each_iteration=True)
    if repeat:
        dataset = dataset.repeat()
    if training and config.augment:
        seeds = tf.data.Dataset.random(seed=config.seed).batch(2)
        dataset = tf.data.Dataset.zip((dataset, seeds)).map(
            lambda pair, seed: random_flip_rotate(pair[0], pair[1], seed), num_parallel_calls=tf.data.AUTOTUNE)
    dataset = dataset.map(_to_targets, num_parallel_calls=tf.data.AUTOTUNE)
    dataset = dataset.batch(config.batch_size, drop_remainder=False, num_parallel_calls=tf.data.AUTOTUNE)
    if not repeat:  # a known length gives Keras a progress-bar total and a clean end of epoch
        examples = sum(manifest["examples"][name]["total"] for name in split_groups(split, fold, manifest["folds"]))
        dataset = dataset.apply(tf.data.experimental.assert_cardinality(-(-examples // config.batch_size)))
    return dataset.prefetch(tf.data.AUTOTUNE).with_options(options)


def _to_targets(image: tf.Tensor, mask: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    target = tf.cast(tf.equal(mask, LANDSLIDE), tf.float32)[..., None]
    weight = tf.cast(tf.not_equal(mask, IGNORE), tf.float32)
    return image, target, weight
