"""`lim-tf data merge`: every source's chips keep their split, the checksums hold, the pooled band
statistics equal those computed from the merged chips themselves, and sets that differ are refused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from helpers import assert_one_line_error, run

from lim_tf.data.manifest import load_manifest, verify_records
from lim_tf.data.records import read_records
from lim_tf.data.sample import IGNORE
from lim_tf.testing import write_bijie


def _build(tmp_path: Path, name: str, seed: int, *options: str) -> Path:
    source = write_bijie(tmp_path / f"{name}-chips", landslides=5, backgrounds=3, seed=seed)
    out = tmp_path / name
    result = run("data", "build", source, out, "--chip-size", "16", "--test-landslide", "1", "--folds", "2", *options)
    assert result.exit_code == 0, result.output
    return out


def _chips(records: Path, files: list[str]) -> list:
    return list(read_records([records / f for f in files]))


@pytest.fixture
def two_sets(tmp_path: Path) -> tuple[Path, Path]:
    return _build(tmp_path, "a", 1), _build(tmp_path, "b", 2, "--augment", "lr_flip_mean")


def test_merged_groups_hold_each_sources_chips_and_pooled_statistics(tmp_path: Path, two_sets) -> None:
    a, b = two_sets
    result = run("data", "merge", a, b, tmp_path / "both")
    assert result.exit_code == 0, result.output
    merged = verify_records(tmp_path / "both")  # every linked shard matches its checksum
    first, second = load_manifest(a), load_manifest(b)
    for group in ("test", "fold0", "fold1"):
        expected = _chips(a, first.files[group]) + _chips(b, second.files[group])
        got = _chips(tmp_path / "both", merged.files[group])
        key = [(c.chip_id, c.augmentation, c.image.tobytes(), c.mask.tobytes()) for c in expected]
        assert sorted(key) == sorted((c.chip_id, c.augmentation, c.image.tobytes(), c.mask.tobytes()) for c in got)
        assert merged.examples[group].total == len(expected)
    # Statistics over the labelled pixels of the training folds' original chips, as data build defines them
    pixels = np.concatenate([c.image[c.mask != IGNORE].astype(np.float64)
                             for c in _chips(tmp_path / "both", merged.files["fold0"] + merged.files["fold1"])
                             if c.augmentation == "none"])
    for band, stats in enumerate(merged.band_statistics):
        assert stats.mean == pytest.approx(pixels[:, band].mean(), rel=1e-9)
        assert stats.std == pytest.approx(pixels[:, band].std(), rel=1e-9)
        assert (stats.min, stats.max) == (pixels[:, band].min(), pixels[:, band].max())
    assert merged.kind_ratio is None and [s["input"] for s in merged.source["sources"]] == [str(a), str(b)]


def test_sets_that_differ_are_refused_in_one_line_and_nothing_is_written(tmp_path: Path, two_sets) -> None:
    a, _ = two_sets
    three_folds = _build(tmp_path, "c", 3, "--folds", "3")
    assert_one_line_error(run("data", "merge", a, three_folds, tmp_path / "x"), str(three_folds), "3 folds",
                          "2 folds", "--folds")
    at_2m = _build(tmp_path, "d", 4, "--resolution", "2")
    assert_one_line_error(run("data", "merge", a, at_2m, tmp_path / "x"), "chips at 2 m", "--resolution")
    four_bands = tmp_path / "four"  # a copy whose manifest claims a fourth band
    shutil.copytree(a, four_bands)
    manifest = json.loads((four_bands / "manifest.json").read_text())
    manifest["band_names"].append("nir")
    manifest["band_statistics"].append(dict(manifest["band_statistics"][0], name="nir"))
    (four_bands / "manifest.json").write_text(json.dumps(manifest))
    assert_one_line_error(run("data", "merge", a, four_bands, tmp_path / "x"), "4 bands (red, green, blue, nir)",
                          "3 bands (red, green, blue)")
    assert_one_line_error(run("data", "merge", a, tmp_path / "x"), "at least two")
    assert not (tmp_path / "x").exists()
