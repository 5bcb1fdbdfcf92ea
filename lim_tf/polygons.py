"""Predicted polygons scored as an analyst counts them: how many labelled landslides the map touches
and how many of its polygons are real, with or without a confidence cut, on chips as on scenes.

A polygon is a 4-connected region of predicted landslide pixels, as `lim-tf map` vectorises them;
with a grouping probability below the threshold (a confidence model's `group`), the pixels of one
region at that probability make one polygon, possibly of several parts. RULE names what counts; every
report quotes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

RULE = ("touch: a labelled landslide is detected when a kept polygon overlaps at least one of its pixels; a "
        "predicted polygon is real when it overlaps at least one labelled landslide pixel")
FOUR = ndimage.generate_binary_structure(2, 1)  # polygons of pixel edges join only across a side


@dataclass(frozen=True)
class Polygon:
    """A predicted polygon of a chip: what the map knows of it, and what the labels say."""

    area_m2: float
    perimeter_m: float
    mean_probability: float
    max_probability: float
    real: bool
    touches: frozenset[int]  # the labelled landslides it overlaps (ids unique across the data)
    empty_chip: bool  # on a chip without landslides: weighted to the source's real mix of kinds


def chip_polygons(truth: np.ndarray, probability: np.ndarray, threshold: float, valid: np.ndarray,
                  resolution: float, first_id: int = 0, min_area_m2: float = 0.0,
                  group: float | None = None) -> tuple[list[Polygon], int]:
    """The predicted polygons of one chip and its number of labelled landslides (8-connected, as an
    analyst delineates them; ids from `first_id`). Polygons under `min_area_m2` are dropped, as
    `map --min-area` drops them.

    `group` (at most `threshold`; None: the threshold): pixels down to this probability join
    landslide pixels into one polygon, so the fragments of one landslide count once; each polygon is
    drawn by its pixels at `threshold`, or whole where it has none (grouped_pixels)."""
    drawn, labels, count = grouped_pixels(probability, threshold, valid, group)
    truth_labels, n_true = ndimage.label(truth & valid, np.ones((3, 3), bool))
    if not count:
        return [], n_true
    index = np.arange(1, count + 1)
    pixels = np.bincount(labels.ravel(), minlength=count + 1)[1:]
    edges = np.zeros(count + 1, np.int64)
    padded = np.pad(labels, 1)
    for axis in (0, 1):
        for shift in (1, -1):
            neighbour = np.roll(padded, shift, axis)[1:-1, 1:-1]
            edges += np.bincount(labels[labels != neighbour], minlength=count + 1)
    mean = np.asarray(ndimage.mean(probability, labels, index))
    peak = np.asarray(ndimage.maximum(probability, labels, index))
    touched: list[set[int]] = [set() for _ in range(count)]
    overlap = drawn & (labels > 0) & (truth_labels > 0)
    for polygon, landslide in set(zip(labels[overlap].tolist(), truth_labels[overlap].tolist())):
        touched[polygon - 1].add(first_id + landslide - 1)
    area = resolution * resolution
    shown = np.bincount(labels[drawn], minlength=count + 1)[1:]  # --min-area counts what the map draws
    return [Polygon(float(pixels[i] * area), float(edges[i + 1] * resolution), float(mean[i]), float(peak[i]),
                    bool(touched[i]), frozenset(touched[i]), n_true == 0)
            for i in range(count) if shown[i] * area >= min_area_m2], n_true


def grouped_pixels(probability: np.ndarray, threshold: float, valid: np.ndarray,
                   group: float | None = None) -> tuple[np.ndarray, np.ndarray, int]:
    """(the pixels the map draws, each pixel's polygon number (0: none), how many polygons).

    Polygons are the 4-connected regions at `group`; a polygon is drawn by its pixels at
    `threshold`, or whole where none of its pixels reaches it (then it is a landslide only the
    grouping found). With `group` None or at the threshold: the regions at the threshold."""
    group = threshold if group is None else min(group, threshold)
    labels, count = ndimage.label((probability >= group) & valid, FOUR)
    drawn = (probability >= threshold) & valid
    if count and group < threshold:
        peak = np.zeros(count + 1)
        peak[1:] = ndimage.maximum(probability, labels, np.arange(1, count + 1))
        drawn |= (labels > 0) & (peak[labels] < threshold)
    return drawn, labels, count


@dataclass
class PolygonSet:
    """Polygons of many chips and their labelled landslides, for scores at any confidence cut."""

    polygons: list[Polygon] = field(default_factory=list)
    landslides: int = 0  # labelled landslides, every chip
    confidence: np.ndarray | None = None  # per polygon, once a confidence model scored them
    group: float | None = None  # the probability its polygons are grouped at (chip_polygons; None: none)

    def add(self, polygons: Sequence[Polygon], landslides: int) -> None:
        self.polygons.extend(polygons)
        self.landslides += landslides

    def scores(self, cut: float | None = None, empty_weight: float = 1.0) -> dict[str, float | int | str]:
        """Detected landslides and polygon precision of the polygons kept at `cut` (all: None), with
        polygons of chips without landslides counted `empty_weight` times (the kind ratio's weight)."""
        kept = [p for p, keep in zip(self.polygons, self._kept(cut)) if keep]
        detected = len(set().union(*(p.touches for p in kept))) if kept else 0
        weights = np.array([empty_weight if p.empty_chip else 1.0 for p in kept])
        real = np.array([p.real for p in kept], bool)
        weighted = float(weights.sum())
        return {"landslides": self.landslides, "detected": detected,
                "detected_share": detected / self.landslides if self.landslides else 1.0,
                "polygons": len(kept), "real_polygons": int(real.sum()),
                "polygon_precision": float(weights[real].sum() / weighted) if weighted else 1.0,
                "rule": RULE}

    def curve(self, cuts: Sequence[float], empty_weight: float = 1.0) -> list[dict[str, float | int | str]]:
        """scores() at each confidence cut."""
        return [{"cut": cut, **{k: v for k, v in self.scores(cut, empty_weight).items() if k != "rule"}}
                for cut in cuts]

    def reliability(self, edges: Sequence[float] = tuple(np.linspace(0, 1, 11)),
                    empty_weight: float = 1.0) -> list[dict[str, float | int | None]]:
        """Per bin of confidence: the mean confidence and the observed share of real polygons."""
        assert self.confidence is not None, "score the polygons with a confidence model first"
        weights = np.array([empty_weight if p.empty_chip else 1.0 for p in self.polygons])
        real = np.array([p.real for p in self.polygons], float)
        bins = np.clip(np.digitize(self.confidence, edges[1:-1]), 0, len(edges) - 2)
        rows = []
        for number, (low, high) in enumerate(zip(edges[:-1], edges[1:])):
            inside = bins == number
            total = float(weights[inside].sum())
            rows.append({"from": float(low), "to": float(high), "polygons": int(inside.sum()),
                         "mean_confidence": float(np.average(self.confidence[inside], weights=weights[inside]))
                         if total else None,
                         "real_share": float((weights * real)[inside].sum() / total) if total else None})
        return rows

    def _kept(self, cut: float | None) -> np.ndarray:
        if cut is None or self.confidence is None:
            return np.ones(len(self.polygons), bool)
        return self.confidence >= cut
