"""Writing chips to sharded, compressed TFRecord files and reading them back."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import tensorflow as tf

from lim_tf.data.sample import Chip
from lim_tf.data.schema import COMPRESSION, decode_chip, encode_chip


def shard_names(prefix: str, count: int, examples_per_shard: int) -> list[str]:
    """File names of the shards that hold `count` examples."""
    shards = max(1, -(-count // examples_per_shard))
    return [f"{prefix}-{i:05d}-of-{shards:05d}.tfrecord.gz" for i in range(shards)]


def write_records(chips: Sequence[Chip], directory: Path, prefix: str, examples_per_shard: int) -> list[str]:
    """Write chips in order to shards named after `prefix`; returns the file names."""
    names = shard_names(prefix, len(chips), examples_per_shard)
    options = tf.io.TFRecordOptions(compression_type=COMPRESSION)
    for index, name in enumerate(names):
        with tf.io.TFRecordWriter(str(directory / name), options) as writer:
            for chip in chips[index * examples_per_shard:(index + 1) * examples_per_shard]:
                writer.write(encode_chip(chip))
    return names


def read_records(paths: Sequence[Path]) -> Iterator[Chip]:
    """Chips from record files, in file order (for tools and tests)."""
    for path in paths:
        for record in tf.data.TFRecordDataset(str(path), compression_type=COMPRESSION):
            yield decode_chip(record.numpy())
