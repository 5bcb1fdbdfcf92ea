"""Which test-time flips and turns pay: each subset of the eight, scored out of fold at the real mix.

Run: .venv/bin/python benchmarks/turns.py RUN RECORDS [--folds 0,1,2,3,4] [--out turns.json]

Each fold's model predicts its own validation fold (never the test split) in all eight orientations
of the square (four quarter turns, each also transposed) once; every subset holding the identity is
then scored from those maps: the mean probability, pooled over the folds, swept for the F1-optimal
threshold with the non-landslide chips weighted to the records' kind ratio (the region's real mix).
The first line per size is the best subset of that many passes; `lim_tf.trained.ensemble.TURNS`
is the order `--tta` adds turns in. Accuracy only: no timing, so the CPU does not matter.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from lim_tf.data.items import record_items  # noqa: E402
from lim_tf.data.manifest import load_manifest  # noqa: E402
from lim_tf.data.sample import IGNORE, LANDSLIDE  # noqa: E402
from lim_tf.metrics import ThresholdSweep, skilful_f1  # noqa: E402
from lim_tf.trained.ensemble import load_run  # noqa: E402

# Orientation k: transposed if k >= 4, then turned by (k % 4) quarter turns.
NAMES = ["0", "90", "180", "270", "T", "T+90", "T+180", "T+270"]


def orient(images: tf.Tensor, k: int) -> tf.Tensor:
    images = tf.transpose(images, [0, 2, 1, 3]) if k >= 4 else images
    return tf.image.rot90(images, k % 4)


def restore(maps: tf.Tensor, k: int) -> tf.Tensor:
    maps = tf.image.rot90(maps, -(k % 4))
    return tf.transpose(maps, [0, 2, 1, 3]) if k >= 4 else maps


def oriented_maps(run: Path, records: Path, folds: list[int]) -> list[tuple[np.ndarray, np.ndarray]]:
    """(mask, [8, H, W] probabilities) of every validation chip of `folds`, each by its fold's model."""
    chips = []
    for fold in folds:
        network = load_run(run, fold, turns=1)[0].models[0]
        predict = tf.function(lambda x: network(x, training=False), reduce_retracing=True)
        for name, image, mask in record_items(records, "val", fold).items:
            x = tf.constant(image[None], tf.float32)
            maps = np.stack([restore(predict(orient(x, k)), k)[0, ..., 0].numpy() for k in range(8)])
            chips.append((mask, maps))
        print(f"fold {fold}: {len(chips)} chips predicted in 8 orientations so far", flush=True)
    return chips


def best_at_mix(chips: list[tuple[np.ndarray, np.ndarray]], subset: tuple[int, ...], ratio: float) -> dict:
    """F1-optimal threshold and its scores for the mean over `subset`, at `ratio` empty chips per landslide chip."""
    sweeps, counts = {True: ThresholdSweep(), False: ThresholdSweep()}, {True: 0, False: 0}
    for mask, maps in chips:
        truth, valid = mask == LANDSLIDE, mask != IGNORE
        sweeps[bool(truth.any())].add(truth, maps[list(subset)].mean(axis=0), valid)
        counts[bool(truth.any())] += 1
    weight = ratio * counts[True] / max(counts[False], 1)
    positives = sweeps[True].positives + weight * sweeps[False].positives
    negatives = sweeps[True].negatives + weight * sweeps[False].negatives
    tp, fp = np.cumsum(positives[::-1])[::-1], np.cumsum(negatives[::-1])[::-1]
    precision, recall = tp / np.maximum(tp + fp, 1e-9), tp / positives.sum()
    f1 = skilful_f1(2 * precision * recall / np.maximum(precision + recall, 1e-12), positives.sum(), negatives.sum())
    i = int(np.argmax(f1))
    return {"f1": float(f1[i]), "precision": float(precision[i]), "recall": float(recall[i]),
            "threshold": i / len(f1)}  # the sweep bin whose lower edge is the threshold


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("records", type=Path)
    parser.add_argument("--folds", default="0,1,2,3,4")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    ratio = load_manifest(args.records).kind_ratio
    if not ratio:
        raise SystemExit(f"{args.records}: the manifest states no kind ratio; build the records from a known source")
    chips = oriented_maps(args.run, args.records, [int(k) for k in args.folds.split(",")])
    rows = []
    for size in (1, 2, 3, 4, 8):
        subsets = [s for s in itertools.combinations(range(8), size) if size == 1 or 0 in s]
        scored = sorted(((s, best_at_mix(chips, s, ratio)) for s in subsets), key=lambda r: -r[1]["f1"])
        rows += [{"passes": size, "orientations": [NAMES[k] for k in s], **score} for s, score in scored]
        for s, score in scored[:3] + [r for r in scored[3:] if r[0] in ((0, 2), (0, 2, 1), (0, 1, 2, 3))]:
            print(f"{size} passes  {'+'.join(NAMES[k] for k in s):34s} F1 {score['f1']:.4f}  P {score['precision']:.3f}"
                  f"  R {score['recall']:.3f}  threshold {score['threshold']:.3f}", flush=True)
    summary = {"run": str(args.run), "folds": args.folds, "kind_ratio": ratio, "chips": len(chips), "rows": rows}
    if args.out:
        args.out.write_text(json.dumps(summary, indent=1) + "\n")
    print(json.dumps({k: v for k, v in summary.items() if k != "rows"}))


if __name__ == "__main__":
    main()
