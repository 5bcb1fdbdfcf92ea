"""Splits: held-out counts on hand-worked cases, origins never straddle, both kinds in every fold."""

from __future__ import annotations

import dataclasses
from collections import Counter

import pytest

from lim_tf.config import SplitConfig
from lim_tf.data.splits import assign_splits, held_out_counts
from lim_tf.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class Fact:
    origin_id: str
    is_landslide: bool
    fold: int = -2


def test_the_non_landslide_share_follows_the_landslide_share():
    assert held_out_counts(SplitConfig(test_landslide=0.1), 540, 700) == (54, 70)
    assert held_out_counts(SplitConfig(test_landslide=54), 540, 700) == (54, 70)  # a count: the same share
    assert held_out_counts(SplitConfig(test_landslide=0.1, test_non_landslide=3), 540, 700) == (54, 3)
    assert held_out_counts(SplitConfig(test_landslide=1.0), 5, 8) == (5, 8)


def test_impossible_shares_are_refused():
    with pytest.raises(ConfigError, match="only 540 exist"):
        held_out_counts(SplitConfig(test_landslide=600), 540, 700)
    with pytest.raises(ConfigError, match="only 700 exist"):
        held_out_counts(SplitConfig(test_landslide=1, test_non_landslide=701), 540, 700)


def _facts() -> list[Fact]:
    # 30 landslide origins with 2 chips each, 40 non-landslide origins with 1 chip
    return ([Fact(f"ls{i}", True) for i in range(30) for _ in range(2)]
            + [Fact(f"nls{i}", False) for i in range(40)])


def test_origins_never_straddle_and_every_fold_holds_both_kinds():
    split = assign_splits(_facts(), SplitConfig(test_landslide=0.1, folds=5, seed=3))
    by_origin: dict[str, set[int]] = {}
    for fact in split:
        by_origin.setdefault(fact.origin_id, set()).add(fact.fold)
    assert all(len(folds) == 1 for folds in by_origin.values())
    held_out = Counter(f.is_landslide for f in split if f.fold == -1)
    assert (held_out[True], held_out[False]) == (6, 4)  # 10 % of 30 origins x 2 chips; 10 % of 40 origins
    for fold in range(5):
        kinds = {f.is_landslide for f in split if f.fold == fold}
        assert kinds == {True, False}


def test_the_same_seed_gives_the_same_split_and_folds_zero_holds_everything_out():
    config = SplitConfig(test_landslide=0.2, folds=3, seed=7)
    assert assign_splits(_facts(), config) == assign_splits(_facts(), config)
    assert {f.fold for f in assign_splits(_facts(), SplitConfig(test_landslide=1.0, folds=0))} == {-1}
    with pytest.raises(ConfigError, match="at least 2"):
        assign_splits(_facts(), SplitConfig(folds=1))
