"""data/units.py: one unit read into chips, described in a few numbers, and written as one shard."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lim_tf.config import DataConfig, SourceConfig
from lim_tf.data.images import read_image
from lim_tf.data.records import read_records
from lim_tf.data.sources import list_units
from lim_tf.data.units import describe_chips, read_unit_chips, write_shard
from lim_tf.errors import InputError
from lim_tf.testing import write_bijie, write_raster


def test_a_unit_s_chips_and_their_facts_match_the_file(tmp_path: Path) -> None:
    root = write_bijie(tmp_path / "bijie", landslides=2, backgrounds=1, seed=5)
    config = DataConfig()
    units = list_units(root, config.source)
    read = read_unit_chips(root, units[0], config)
    [chip] = read.chips
    image = read_image(Path(read.paths[0]))
    assert np.array_equal(chip.image, image) and read.resolutions == [0.8]  # Bijie's stated pixel size
    [facts], resolutions = describe_chips(read, unit=3)
    landslide = int((chip.mask == 1).sum())
    assert (facts.unit, facts.index, facts.is_landslide) == (3, 0, True)
    assert (facts.counts.landslide, facts.counts.background) == (landslide, chip.mask.size - landslide)
    band_sum, squares, low, high, pixels = facts.sums
    flat = image.reshape(-1, 3).astype(np.float64)
    assert pixels == flat.shape[0] and np.allclose(band_sum, flat.sum(0)) and np.allclose(squares, (flat ** 2).sum(0))
    assert np.array_equal(low, flat.min(0)) and np.array_equal(high, flat.max(0))


def test_a_shard_holds_its_entries_in_order_and_its_digest_is_the_file_s(tmp_path: Path) -> None:
    root = write_bijie(tmp_path / "bijie", landslides=2, backgrounds=1, seed=5)
    config = DataConfig()
    units = {i: read_unit_chips(root, unit, config) for i, unit in enumerate(list_units(root, config.source))}
    entries = [(2, 0, 1, "none", 0), (0, 0, 3, "none", 0), (0, 0, 3, "lr_flip_mean", 1)]
    name, digest = write_shard(str(tmp_path), "fold-0.tfrecord.gz", entries, units, config)
    assert digest == hashlib.sha256((tmp_path / name).read_bytes()).hexdigest()
    chips = list(read_records([tmp_path / name]))
    assert [(c.chip_id, c.fold, c.augmentation) for c in chips] == [
        (units[2].chips[0].chip_id, 1, "none"), (units[0].chips[0].chip_id, 3, "none"),
        (chips[2].chip_id, 3, "lr_flip_mean")]
    assert np.array_equal(chips[0].image, units[2].chips[0].image)
    assert chips[2].chip_id != chips[1].chip_id  # a copy is a chip of its own


def test_a_float_image_with_nan_is_refused_naming_it(tmp_path: Path) -> None:
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    image = np.ones((3, 8, 8), np.float32)
    image[1, 2, 2] = np.nan
    write_raster(tmp_path / "images" / "a.tif", image, crs=None)
    Image.fromarray(np.zeros((8, 8), np.uint8)).save(tmp_path / "masks" / "a.png")
    config = DataConfig(source=SourceConfig(format="folder"))
    [unit] = list_units(tmp_path, config.source)
    with pytest.raises(InputError, match=r"a.tif: image has NaN or infinite values; mark them as nodata"):
        read_unit_chips(tmp_path, unit, config)
