"""A shipped model on a new region: zero-shot, then adapted with 10, 30, 100 and all labelled tiles.

Run: .venv/bin/python benchmarks/adapt.py MODEL TILES OUT [--sizes 0 10 30 100 all] [--split-column 8960]
TILES is a folder of images/*.jpg and masks/*.png cut from one mosaic and named
`<prefix>_<row0>_<row1>_<col0>_<col1>` (../shared/data/jiuzhaigou_train). It is split by block of
ground, never at random: tiles left of --split-column adapt, tiles right of it (past a one-tile
buffer, so no landslide lies in both) test. Tiles are read as --source-resolution metres and brought
to the model's resolution. Each size N draws N adaptation tiles (seed 0); 20 % of them validate
(the threshold and the best epoch are chosen there), the rest train with `train --init-from MODEL`
for --steps steps of 16 tiles (20 an epoch, validated every third). Every run is scored on the whole test block at its validation threshold (the
zero-shot model at its own). Results go to OUT/results.json and a table; the last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from common import cpu_model, lim  # noqa: E402

SCORES = ("f1", "precision", "recall", "iou_landslide")
STEPS_PER_EPOCH = 20


def window(path: Path) -> tuple[int, int, int, int]:
    """(row0, row1, col0, col1) of a tile in the mosaic, from its name."""
    return tuple(int(part) for part in path.stem.split("_")[-4:])  # type: ignore[return-value]


def link_folder(tiles: list[Path], source: Path, folder: Path) -> Path:
    """images/ and masks/ of links to the chosen tiles."""
    for part in ("images", "masks"):
        (folder / part).mkdir(parents=True, exist_ok=True)
    for tile in tiles:
        os.symlink(tile.resolve(), folder / "images" / tile.name)
        os.symlink((source / "masks" / f"{tile.stem}.png").resolve(), folder / "masks" / f"{tile.stem}.png")
    return folder


def split_blocks(source: Path, column: int) -> tuple[list[Path], list[Path]]:
    tiles = sorted((source / "images").glob("*.jpg"))
    width = window(tiles[0])[3] - window(tiles[0])[2]
    adapt = [t for t in tiles if window(t)[3] <= column - width]  # a one-tile buffer before the split
    test = [t for t in tiles if window(t)[2] >= column]
    return adapt, test


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("tiles", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--sizes", nargs="*", default=["0", "10", "30", "100", "all"])
    parser.add_argument("--split-column", type=int, default=8960)
    parser.add_argument("--source-resolution", type=float, default=1.0)
    parser.add_argument("--resolution", type=float, default=1.6)
    parser.add_argument("--steps", type=int, default=600, help="training steps per run (batch 16)")
    args = parser.parse_args()
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    adapt, test = split_blocks(args.tiles, args.split_column)
    common = ["--format", "folder", "--source-resolution", args.source_resolution, "--resolution", args.resolution,
              "--mask-values", "0=background,255=landslide", "--augment", "none"]
    test_records = out / "records-test"
    if not test_records.exists():
        lim("data", "build", link_folder(test, args.tiles, out / "tiles-test"), test_records, "--test-only", *common)
    results_path = out / "results.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else {}
    order = np.random.default_rng(0).permutation(len(adapt))
    for size in args.sizes:
        if size in results:
            continue
        count = len(adapt) if size == "all" else int(size)
        started = time.time()
        if count == 0:
            model, minutes = args.model, 0.0
        else:
            chosen = [adapt[i] for i in order[:count]]
            records = out / f"records-{size}"
            if not records.exists():
                lim("data", "build", link_folder(chosen, args.tiles, out / f"tiles-{size}"), records,
                    "--test-landslide", 0, "--test-non-landslide", 0, "--folds", 5, *common)
            model = out / f"run-{size}"
            epochs = max(3, args.steps // STEPS_PER_EPOCH)  # the same number of steps whatever N: tiles repeat
            lim("train", records, model, "--init-from", args.model, "--preset", "cpu", "--epochs", epochs,
                "--steps-per-epoch", STEPS_PER_EPOCH, "--validation-every", 3, "--freeze-encoder-epochs", 2,
                "--learning-rate", 3e-4,
                *(["--resume"] if model.exists() else []))
            minutes = (time.time() - started) / 60
        lim("eval", model, "--records", test_records, "--out", out / f"eval-{size}", "--figures", 4, "--overwrite")
        metrics = json.loads((out / f"eval-{size}" / "metrics.json").read_text())
        results[size] = {"tiles": count, "train_minutes": minutes, "threshold": metrics["threshold"],
                         **{key: metrics[key] for key in SCORES}}
        results_path.write_text(json.dumps(results, indent=2) + "\n")
        print(f"{size:>4} tiles: F1 {metrics['f1']:.3f}, precision {metrics['precision']:.3f}, recall "
              f"{metrics['recall']:.3f}, IoU {metrics['iou_landslide']:.3f} at {metrics['threshold']:.2f}; "
              f"{minutes:.1f} min of training", flush=True)
    print(json.dumps({"cpu": cpu_model(), "model": args.model, "adaptation_tiles": len(adapt),
                      "test_tiles": len(test), "split_column": args.split_column,
                      "source_resolution": args.source_resolution, "results": results}))


if __name__ == "__main__":
    main()
