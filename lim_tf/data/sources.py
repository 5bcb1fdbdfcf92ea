"""Source name to reader."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from lim_tf.config import ChipConfig, SourceConfig
from lim_tf.data.bijie import read_bijie
from lim_tf.data.folder import read_folder
from lim_tf.data.geotiff import read_geotiff
from lim_tf.data.l4s import read_l4s
from lim_tf.data.sample import Sample
from lim_tf.errors import InputError


def read_samples(path: Path, source: SourceConfig, chip: ChipConfig) -> Iterator[Sample]:
    """Samples from `path` in the configured format."""
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    if source.format == "bijie":
        return read_bijie(path, source)
    if source.format == "folder":
        return read_folder(path, source)
    if source.format == "l4s":
        return read_l4s(path, source)
    return read_geotiff(path, source, chip)
