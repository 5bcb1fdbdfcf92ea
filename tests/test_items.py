"""data/items.py: what eval scores: a record split's original chips, or an image folder's images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from lim_tf.config import DataConfig, SourceConfig, SplitConfig
from lim_tf.data.build import build_dataset
from lim_tf.data.images import read_image
from lim_tf.data.items import folder_items, record_items
from lim_tf.errors import InputError
from lim_tf.testing import write_bijie


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("items")
    data = write_bijie(root / "bijie", landslides=6, backgrounds=3, seed=2)
    records = root / "records"
    build_dataset(data, records, DataConfig(split=SplitConfig(test_landslide=2, test_non_landslide=1, folds=2)),
                  progress=False)
    return data, records


def test_a_record_split_yields_its_original_chips_only(built: tuple[Path, Path]) -> None:
    data, records = built
    items = record_items(records, "all")
    listed = list(items.items)
    assert items.count == len(listed) == 6  # 9 chips less the 3 held out; augmented copies left out
    assert items.bands == 3
    test = list(record_items(records, "test").items)
    assert len(test) == 3 and not {i for i, _, _ in test} & {i for i, _, _ in listed}
    ids = {i for i, _, _ in listed + test}
    assert ids == {f"{kind}/{p.stem}" for kind in ("landslide", "non-landslide")
                   for p in (data / kind / "image").iterdir()}


def test_a_validation_fold_is_part_of_all_folds(built: tuple[Path, Path]) -> None:
    _, records = built
    every = {i for i, _, _ in record_items(records, "all").items}
    folds = [{i for i, _, _ in record_items(records, "val", fold).items} for fold in (0, 1)]
    assert folds[0] | folds[1] == every and not folds[0] & folds[1]


def test_a_bijie_folder_is_read_at_the_asked_resolution(built: tuple[Path, Path]) -> None:
    data, _ = built
    items = folder_items(data, SourceConfig(), resolution=1.6)
    assert items.count == 9 and items.bands is None
    first = next(items.items)
    original = read_image(sorted((data / "landslide" / "image").iterdir())[0])
    assert first[0] == "landslide/" + sorted((data / "landslide" / "image").iterdir())[0].stem
    assert first[1].shape[:2] == tuple(round(s / 2) for s in original.shape[:2])  # 0.8 m to 1.6 m
    assert set(np.unique(first[2]).tolist()) <= {0, 1}


def test_a_folder_of_another_layout_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="expected landslide/image/ and non-landslide/image/"):
        folder_items(tmp_path, SourceConfig(), None)
