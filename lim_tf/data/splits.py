"""The held-out test split, then K folds over the rest: stratified and grouped by origin."""

from __future__ import annotations

import dataclasses
import logging
import warnings
from collections.abc import Sequence

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold

from lim_tf.config import SplitConfig
from lim_tf.data.sample import Chip
from lim_tf.errors import ConfigError

log = logging.getLogger(__name__)


def _count(value: float, total: int, option: str) -> int:
    """A count given as a number (>= 1) or a fraction (< 1) of `total`."""
    if value < 0:
        raise ConfigError(f"{option} must be a count or a fraction >= 0, got {value}")
    count = int(round(value * total)) if value < 1 else int(value)
    if count > total:
        raise ConfigError(f"{option}={value} asks for {count} samples but only {total} exist; lower it")
    return count


def assign_splits(chips: Sequence[Chip], config: SplitConfig) -> list[Chip]:
    """Chips with `fold` set: -1 for the test split, 0..K-1 otherwise. Origins never straddle."""
    if config.folds < 2:
        raise ConfigError(f"--folds must be at least 2, got {config.folds}")
    landslide_origins: dict[str, bool] = {}
    for chip in chips:
        landslide_origins[chip.origin_id] = landslide_origins.get(chip.origin_id, False) or chip.is_landslide
    origins = sorted(landslide_origins)
    positive = [o for o in origins if landslide_origins[o]]
    negative = [o for o in origins if not landslide_origins[o]]
    rng = np.random.default_rng(config.seed)
    n_pos = _count(config.test_landslide, len(positive), "--test-landslide")
    n_neg = _count(config.test_non_landslide, len(negative), "--test-non-landslide")
    test = set(rng.choice(positive, n_pos, replace=False).tolist()) if n_pos else set()
    test |= set(rng.choice(negative, n_neg, replace=False).tolist()) if n_neg else set()
    if len(positive) - n_pos < config.folds:
        raise ConfigError(f"{len(positive) - n_pos} landslide samples remain for {config.folds} folds; "
                          "lower --folds or --test-landslide")

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
