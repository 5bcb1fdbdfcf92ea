"""A polygon's `confidence`: the probability that it is a real landslide, learnt from what the map
knows of it (area, mean and maximum probability, compactness) on validation chips only, with
scikit-learn's logistic regression. The fitted model is data (coefficients, feature means and
scales, the cut), kept in run.json and in a shipped model's card: loading it runs no code.

Polygons on chips without landslides are weighted up to the source's real mix of chip kinds, so the
confidence reads as the chance a polygon is real in a scene, not in the validation split; the cut
that keeps a polygon in the inventory is the one with the best balance (F1) of detected landslides
and polygon precision on validation, at that mix.

The polygons it rates are grouped at GROUP_SHARE of the threshold (lim_tf.polygons): the fragments of
one landslide, joined by pixels a little under the threshold, make one polygon whose features describe
the whole, and a landslide seen only under the threshold still makes one.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from lim_tf.errors import InputError
from lim_tf.polygons import RULE, Polygon, PolygonSet, chip_polygons

FEATURES = ("log_area_m2", "mean_probability", "max_probability", "compactness")
# Fewer validation polygons of either kind say nothing about the rest. Ten, not more: a region
# adapted from a few dozen labelled tiles validates on a few dozen polygons, and without a model its
# inventory keeps every speck (on the Jiuzhaigou review loop, 16 false polygons gave none at 20).
MIN_POLYGONS = 10
# Polygons are grouped at this share of the threshold. Out of fold on the Bijie recipe's five fold
# models (benchmarks/grouping.py: 2 turns; confidence learnt on four folds' validation polygons,
# scored on the fifth's) the inventory's F1 of detection and polygon precision was 0.749 ungrouped,
# 0.757 / 0.763 / 0.774 / 0.778 / 0.774 / 0.791 at 0.85 / 0.7 / 0.55 / 0.4 / 0.3 / 0.2: most of
# the gain by 0.55, and lower shares join ever more separate landslides into one polygon.
GROUP_SHARE = 0.55


def group_at(threshold: float) -> float:
    """The probability a run's polygons are grouped at."""
    return round(GROUP_SHARE * threshold, 4)


def features(area_m2: Any, perimeter_m: Any, mean_probability: Any, max_probability: Any) -> np.ndarray:
    """The features of polygons ([n, 4]); compactness 4 pi area / perimeter² (a pixel square: pi / 4)."""
    area, perimeter = np.asarray(area_m2, float), np.asarray(perimeter_m, float)
    compactness = 4 * math.pi * area / np.maximum(perimeter, 1e-9) ** 2
    return np.column_stack([np.log(np.maximum(area, 1e-3)), np.asarray(mean_probability, float),
                            np.asarray(max_probability, float), compactness])


def polygon_features(polygons: list[Polygon]) -> np.ndarray:
    return features([p.area_m2 for p in polygons], [p.perimeter_m for p in polygons],
                    [p.mean_probability for p in polygons], [p.max_probability for p in polygons])


@dataclass(frozen=True)
class ConfidenceModel:
    """Logistic regression on standardised features, and the inventory's cut."""

    coefficients: tuple[float, ...]
    intercept: float
    mean: tuple[float, ...]
    scale: tuple[float, ...]
    cut: float
    empty_weight: float  # how polygons on chips without landslides were counted
    validation: dict[str, Any]  # scores on the validation polygons, with and without the cut
    features: tuple[str, ...] = FEATURES
    rule: str = RULE
    # The probability its polygons were grouped at (lim_tf.polygons); None: at the threshold, as
    # models fitted before grouping were.
    group: float | None = None

    def predict(self, values: np.ndarray) -> np.ndarray:
        """Confidence of each row of `values` (features(...))."""
        z = (np.asarray(values, float) - np.asarray(self.mean)) / np.asarray(self.scale)
        return 1 / (1 + np.exp(-(z @ np.asarray(self.coefficients) + self.intercept)))

    def to_json(self) -> dict[str, Any]:
        return {key: list(value) if isinstance(value, tuple) else value for key, value in asdict(self).items()}

    @classmethod
    def from_json(cls, data: Any, where: str) -> "ConfidenceModel":
        try:
            model = cls(**{**data, **{k: tuple(data[k]) for k in ("coefficients", "mean", "scale", "features")}})
        except (TypeError, KeyError) as error:
            raise InputError(f"{where}: the confidence model is damaged ({error}); retrain or restore it") from error
        if model.features != FEATURES or not len(model.coefficients) == len(model.mean) == len(model.scale) == \
                len(FEATURES):
            raise InputError(f"{where}: the confidence model uses features {list(model.features)}, not "
                             f"{list(FEATURES)}; update lim-tf or retrain")
        if model.group is not None and not (isinstance(model.group, (int, float)) and 0 < model.group <= 1):
            raise InputError(f"{where}: the confidence model's group must be a probability in (0, 1], not "
                             f"{model.group!r}; retrain or restore it")
        return model


def fit_confidence(found: PolygonSet, empty_weight: float = 1.0) -> ConfidenceModel | None:
    """The confidence model of validation polygons `found` (it keeps their grouping), or None where
    they are too few (under MIN_POLYGONS real or false ones) to learn from."""
    from sklearn.linear_model import LogisticRegression

    real = np.array([p.real for p in found.polygons], bool)
    if real.sum() < MIN_POLYGONS or (~real).sum() < MIN_POLYGONS:
        return None
    values = polygon_features(found.polygons)
    mean, scale = values.mean(axis=0), np.maximum(values.std(axis=0), 1e-9)
    weights = np.array([empty_weight if p.empty_chip else 1.0 for p in found.polygons])
    fitted = LogisticRegression(C=1.0, max_iter=1000).fit((values - mean) / scale, real, sample_weight=weights)
    model = ConfidenceModel(tuple(float(c) for c in fitted.coef_[0]), float(fitted.intercept_[0]),
                            tuple(float(m) for m in mean), tuple(float(s) for s in scale), 0.0, empty_weight, {})
    found.confidence = model.predict(values)
    cut = best_cut(found, empty_weight)
    validation = {name: {k: v for k, v in found.scores(at, empty_weight).items() if k != "rule"}
                  for name, at in (("all", None), ("kept", cut))}
    return ConfidenceModel(model.coefficients, model.intercept, model.mean, model.scale, cut, empty_weight,
                           validation, group=found.group)


def best_cut(found: PolygonSet, empty_weight: float = 1.0) -> float:
    """The confidence cut with the best F1 of detected share and polygon precision (ties: the lower)."""
    assert found.confidence is not None
    best, best_f1 = 0.0, -1.0
    for cut in np.unique(np.round(found.confidence, 3)):
        scores = found.scores(float(cut), empty_weight)
        detected, precision = float(scores["detected_share"]), float(scores["polygon_precision"])
        f1 = 2 * detected * precision / (detected + precision) if detected + precision else 0.0
        if f1 > best_f1 + 1e-12:
            best, best_f1 = float(cut), f1
    return best


def validation_polygons(run: Any, state: Any, folds: list[int], model: Any = None) -> tuple[PolygonSet, float]:
    """Each fold model's polygons on its own validation fold (or `model`'s on every fold listed), at
    the run's threshold, grouped at group_at(threshold), and the records' resolution, and the weight
    that brings chips without landslides to the source's real mix."""
    from pathlib import Path

    from lim_tf.data.items import record_items
    from lim_tf.data.manifest import load_manifest
    from lim_tf.data.sample import IGNORE, LANDSLIDE
    from lim_tf.trained.ensemble import load_run

    records = Path(state.records)
    manifest = load_manifest(records)
    found, chips = PolygonSet(group=group_at(state.threshold)), {"landslide": 0, "empty": 0}
    for fold in folds:
        member = model or load_run(Path(run), fold)[0]
        items = record_items(records, "val", fold)
        for name, image, mask in items.items:
            probability = member.predict(image[None])[0]
            truth, valid = mask == LANDSLIDE, mask != IGNORE
            polygons, landslides = chip_polygons(truth, probability, state.threshold, valid,
                                                 state.resolution or 1.0, found.landslides, group=found.group)
            found.add(polygons, landslides)
            chips["landslide" if landslides else "empty"] += 1
    ratio = manifest.kind_ratio
    weight = ratio * chips["landslide"] / chips["empty"] if ratio and chips["empty"] else 1.0
    return found, weight


def fit_run_confidence(run: Any, state: Any) -> ConfidenceModel | None:
    """The confidence model of a run's polygons on its folds' validation chips (None: too few)."""
    found, weight = validation_polygons(run, state, state.done_folds())
    return fit_confidence(found, weight)
