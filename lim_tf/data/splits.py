"""The held-out test split, then K folds over the rest: stratified and grouped by origin."""

from __future__ import annotations

import dataclasses
import logging
import warnings
from collections.abc import Sequence
from typing import Any, TypeVar

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold

from lim_tf.config import SplitConfig
from lim_tf.errors import ConfigError

log = logging.getLogger(__name__)


def _count(value: int | float, total: int, option: str) -> int:
    """A count (an int) or a fraction (a float in 0..1) of `total`."""
    if isinstance(value, float):
        if not 0 <= value <= 1:
            raise ConfigError(f"{option}={value}: a fraction must lie in 0..1 (1.0 is all); give a whole "
                              "number for a count")
        return int(round(value * total))
    if value < 0:
        raise ConfigError(f"{option} must be a count >= 0 or a fraction in 0..1, got {value}")
    if value > total:
        raise ConfigError(f"{option}={value} asks for {value} samples but only {total} exist; lower it")
    return int(value)


def held_out_counts(config: SplitConfig, positives: int, negatives: int) -> tuple[int, int]:
    """Landslide and non-landslide samples to hold out. Non-landslide ones default to the same
    share as landslide ones, so the test split keeps the dataset's ratio of the two kinds."""
    n_pos = _count(config.test_landslide, positives, "--test-landslide")
    if config.test_non_landslide is None:
        share = n_pos / positives if positives else (config.test_landslide if isinstance(config.test_landslide, float)
                                                     else 0.0)
        return n_pos, int(round(share * negatives))
    return n_pos, _count(config.test_non_landslide, negatives, "--test-non-landslide")


# Anything with origin_id and is_landslide that dataclasses.replace can give a fold: a Chip, or
# the build's ChipFacts (which describe chips without holding their pixels).
Splittable = TypeVar("Splittable", bound=Any)


def assign_splits(chips: Sequence[Splittable], config: SplitConfig) -> list[Splittable]:
    """Chips with `fold` set: -1 for the test split, 0..K-1 otherwise. Origins never straddle.

    folds=0 holds every sample out: a test-only record set."""
    if config.folds == 1 or config.folds < 0:
        raise ConfigError(f"--folds must be at least 2 (or 0 for a test-only set), got {config.folds}")
    landslide_origins: dict[str, bool] = {}
    for chip in chips:
        landslide_origins[chip.origin_id] = landslide_origins.get(chip.origin_id, False) or chip.is_landslide
    if config.folds == 0:
        return [dataclasses.replace(chip, fold=-1) for chip in chips]
    origins = sorted(landslide_origins)
    positive = [o for o in origins if landslide_origins[o]]
    negative = [o for o in origins if not landslide_origins[o]]
    rng = np.random.default_rng(config.seed)
    n_pos, n_neg = held_out_counts(config, len(positive), len(negative))
    test = set(rng.choice(positive, n_pos, replace=False).tolist()) if n_pos else set()
    test |= set(rng.choice(negative, n_neg, replace=False).tolist()) if n_neg else set()
    if len(positive) - n_pos < config.folds:
        raise ConfigError(f"{len(positive) - n_pos} landslide samples remain for {config.folds} folds; "
                          "lower --folds or --test-landslide (or --folds 0 for a test-only set)")

    rest = [i for i, chip in enumerate(chips) if chip.origin_id not in test]
    labels = [int(landslide_origins[chips[i].origin_id]) for i in rest]
    groups = [chips[i].origin_id for i in rest]
    folds = np.full(len(chips), -1)
    if min(labels.count(0), labels.count(1)) < config.folds:
        log.warning("fewer samples than folds in one class; some folds will lack that class")
    splitter = StratifiedGroupKFold(n_splits=config.folds, shuffle=True, random_state=config.seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the same warning as above, from sklearn
        for fold, (_, held) in enumerate(splitter.split(np.zeros(len(rest)), labels, groups)):
            folds[np.asarray(rest)[held]] = fold
    return [dataclasses.replace(chip, fold=int(fold)) for chip, fold in zip(chips, folds)]
