"""How far under the threshold to group polygons: each share of the threshold scored out of fold.

Run: .venv/bin/python benchmarks/grouping.py RUN RECORDS [--turns 2] [--shares 1,0.85,0.7,0.55,0.4]

Each fold model of RUN predicts its own validation fold (never the test split) once, with `--turns`
quarter turns. The pixel threshold is the F1-optimal one over the pooled folds at the records' real
mix of chip kinds. Per share, polygons are grouped at share x threshold (lim_tf.polygons); for each
fold the confidence model and its cut are learnt on the other folds' polygons and scored on this
fold's, so the inventory's detected share and polygon precision are out of fold, pooled over the
folds, at the real mix. lim_tf.trained.confidence.GROUP_SHARE is the share chosen from this.
Accuracy only: no timing, so the CPU does not matter.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

from lim_tf.data.items import record_items  # noqa: E402
from lim_tf.data.manifest import load_manifest  # noqa: E402
from lim_tf.data.sample import IGNORE, LANDSLIDE  # noqa: E402
from lim_tf.metrics import ThresholdSweep  # noqa: E402
from lim_tf.polygons import PolygonSet, chip_polygons  # noqa: E402
from lim_tf.trained.confidence import fit_confidence, polygon_features  # noqa: E402
from lim_tf.trained.ensemble import load_run  # noqa: E402

Chip = tuple[np.ndarray, np.ndarray, np.ndarray]  # probability, truth, valid


def predicted(run: Path, records: Path, folds: list[int], turns: int) -> dict[int, list[Chip]]:
    chips: dict[int, list[Chip]] = {}
    for fold in folds:
        model = load_run(run, fold, turns)[0]
        chips[fold] = [(model.predict(image[None])[0], mask == LANDSLIDE, mask != IGNORE)
                       for _, image, mask in record_items(records, "val", fold).items]
        print(f"fold {fold}: {len(chips[fold])} validation chips predicted", flush=True)
    return chips


def pixel_threshold(chips: dict[int, list[Chip]], weight: float) -> float:
    """F1-optimal over every fold, pixels of chips without landslides counted `weight` times."""
    sweeps = {True: ThresholdSweep(), False: ThresholdSweep()}
    for probability, truth, valid in (c for fold in chips.values() for c in fold):
        sweeps[bool(truth.any())].add(truth, probability, valid)
    held, empty = sweeps[True], sweeps[False]
    return ThresholdSweep(held.bins, held.positives + weight * empty.positives,
                          held.negatives + weight * empty.negatives).best_threshold()[0]


def out_of_fold(chips: dict[int, list[Chip]], threshold: float, group: float, resolution: float,
                weight: float) -> dict[str, float]:
    sets, first = {}, 0
    for fold, fold_chips in chips.items():
        found = PolygonSet(group=group)
        for probability, truth, valid in fold_chips:
            polygons, landslides = chip_polygons(truth, probability, threshold, valid, resolution, first,
                                                 group=group)
            found.add(polygons, landslides)
            first += landslides  # landslide ids unique across folds
        sets[fold] = found
    pooled, kept = PolygonSet(group=group), []  # every fold's polygons, kept by the cut learnt without it
    for fold, found in sets.items():
        others = PolygonSet(group=group)
        for other in (s for f, s in sets.items() if f != fold):
            others.add(other.polygons, other.landslides)
        model = fit_confidence(others, weight)
        rated = model.predict(polygon_features(found.polygons)) if model else np.ones(len(found.polygons))
        kept.extend(rated >= (model.cut if model else 0.0))
        pooled.add(found.polygons, found.landslides)
    pooled.confidence = np.asarray(kept, float)
    scores = pooled.scores(0.5, weight)
    share, precision = float(scores["detected_share"]), float(scores["polygon_precision"])
    return {"detected": share, "precision": precision, "f1": 2 * share * precision / (share + precision)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("records", type=Path)
    parser.add_argument("--turns", type=int, default=2, choices=(1, 2, 3, 4))
    parser.add_argument("--folds", default="0,1,2,3,4")
    parser.add_argument("--shares", default="1,0.85,0.7,0.55,0.4", help="group at these shares of the threshold")
    args = parser.parse_args()
    manifest = load_manifest(args.records)
    chips = predicted(args.run, args.records, [int(f) for f in args.folds.split(",")], args.turns)
    every = [c for fold in chips.values() for c in fold]
    with_landslides = sum(truth.any() for _, truth, _ in every)
    weight = (manifest.kind_ratio or 1.0) * with_landslides / max(len(every) - with_landslides, 1)
    threshold = pixel_threshold(chips, weight)
    print(f"pixel threshold {threshold:.3f} (F1-optimal, chips without landslides x {weight:.2f})")
    for share in (float(s) for s in args.shares.split(",")):
        scores = out_of_fold(chips, threshold, share * threshold, manifest.resolution or 1.0, weight)
        print(f"group at {share:.2f} x threshold ({share * threshold:.3f}): inventory out of fold detects "
              f"{scores['detected']:.3f}, polygon precision {scores['precision']:.3f}, F1 {scores['f1']:.3f}")


if __name__ == "__main__":
    main()
