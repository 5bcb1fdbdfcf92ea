"""Writing chips to sharded, compressed TFRecord files and reading them back."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from lim_tf.data.sample import Chip
from lim_tf.data.schema import COMPRESSION, decode_chip, encode_chip
from lim_tf.runtime.quiet import tf


def shard_names(prefix: str, count: int, examples_per_shard: int) -> list[str]:
    """File names of the shards that hold `count` examples."""
    shards = max(1, -(-count // examples_per_shard))
    return [f"{prefix}-{i:05d}-of-{shards:05d}.tfrecord.gz" for i in range(shards)]


def write_records(chips: Sequence[Chip], directory: Path, prefix: str, examples_per_shard: int) -> list[str]:
    """Write chips in order to shards named after `prefix`; returns the file names."""
    names = shard_names(prefix, len(chips), examples_per_shard)
    for index, name in enumerate(names):
        write_chips(chips[index * examples_per_shard:(index + 1) * examples_per_shard], Path(directory) / name)
    return names


def write_chips(chips: Sequence[Chip], path: Path) -> None:
    """One GZIP TFRecord file of the chips, in order."""
    with tf.io.TFRecordWriter(str(path), tf.io.TFRecordOptions(compression_type=COMPRESSION)) as writer:
        for chip in chips:
            writer.write(encode_chip(chip))


def read_records(paths: Sequence[Path]) -> Iterator[Chip]:
    """Chips from record files, in file order (for tools and tests)."""
    for path in paths:
        for record in tf.data.TFRecordDataset(str(path), compression_type=COMPRESSION):
            yield decode_chip(record.numpy())
