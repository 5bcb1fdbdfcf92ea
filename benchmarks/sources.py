"""Bijie alone against Bijie with another region's labelled block: trained alike, scored side by side.

Run: .venv/bin/python benchmarks/sources.py BIJIE_RECORDS BASELINE_RUN JIUZHAIGOU_TILES S2_CHIPS OUT
                                            [--split-column 8960] [--train-args ...]

The question of issue 17: does the shipped model transfer better when trained on every labelled
source the project has? Here, stage one: the sources whose pixels share a scale. BIJIE_RECORDS are
the Bijie records at 1.6 m (`lim-tf data build ../shared/data/bijie R --resolution 1.6`); the
Jiuzhaigou tiles left of --split-column (less a one-tile buffer, read as 1 m, as benchmarks/adapt.py
splits them) are built at 1.6 m with no test split of their own and merged with them (`lim-tf data
merge`). The Sentinel-2 and Landslide4Sense chips are left out: their pixels are sensor numbers,
not 8-bit RGB, and one normalisation cannot serve both (the merge refuses them).

A model is trained on the merged records with `train --preset cpu` (its 60-minute budget; pass
--train-args to change it), and BASELINE_RUN must be a Bijie-only run trained the same way on the
same CPU (for example `lim-tf train BIJIE_RECORDS RUN --preset cpu`). Both are scored, each at its
own validation threshold, on:
- the Bijie test split (54 landslide and 70 non-landslide chips), and at Bijie's 2.6 : 1 mix,
- the Jiuzhaigou test block (tiles right of --split-column; in-region for the merged model, but
  ground it never saw),
- the Sentinel-2 Chittagong test tiles (a sensor neither saw; blob counts, bands stretched to each
  model's training statistics, as benchmarks/adapt_sentinel2.py scores zero-shot).
Results go to OUT/results.json; the last line printed is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(__file__))

from adapt import link_folder, split_blocks  # noqa: E402
from adapt_sentinel2 import test_tiles, zero_shot  # noqa: E402
from common import cpu_model  # noqa: E402

LIM = [sys.executable, "-m", "lim_tf_cli.main", "-q"]
PICK = ("f1", "precision", "recall", "iou_landslide", "false_positive_m2_per_km2")


def lim(*args: object) -> None:
    subprocess.run([*LIM, *map(str, args)], check=True)


def scored(run: Path, records: Path, out: Path) -> dict:
    """Pixel scores of `run` on the test split of `records`, at the run's validation threshold."""
    lim("eval", run, "--records", records, "--out", out, "--figures", 0, "--overwrite")
    metrics = json.loads((out / "metrics.json").read_text())
    picked = {key: metrics[key] for key in PICK if key in metrics}
    if metrics.get("at_kind_ratio"):
        picked["at_kind_ratio"] = {key: metrics["at_kind_ratio"][key] for key in ("kind_ratio", "f1", "precision")}
    return {"threshold": metrics["threshold"], **picked}


def _finished(run: Path) -> bool:
    return (run / "run.json").exists() and bool(json.loads((run / "run.json").read_text()).get("ensemble", {})
                                                 .get("models"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bijie_records", type=Path)
    parser.add_argument("baseline", type=Path, help="a Bijie-only run trained as --train-args train")
    parser.add_argument("jiuzhaigou", type=Path, help="../shared/data/jiuzhaigou_train")
    parser.add_argument("sentinel2", type=Path, help="../shared/data/sentinel2_chittagong")
    parser.add_argument("out", type=Path)
    parser.add_argument("--split-column", type=int, default=8960)
    parser.add_argument("--train-args", nargs=argparse.REMAINDER, default=["--preset", "cpu"])
    args = parser.parse_args()
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    adapt, test = split_blocks(args.jiuzhaigou, args.split_column)
    common = ["--format", "folder", "--source-resolution", 1.0, "--resolution", 1.6,
              "--mask-values", "0=background,255=landslide"]
    block, block_test, merged = out / "records-jiuzhaigou", out / "records-jiuzhaigou-test", out / "records-merged"
    if not block.exists():
        lim("data", "build", link_folder(adapt, args.jiuzhaigou, out / "tiles-adapt"), block,
            "--test-landslide", 0, "--test-non-landslide", 0, "--folds", 5, *common)
    if not block_test.exists():
        lim("data", "build", link_folder(test, args.jiuzhaigou, out / "tiles-test"), block_test, "--test-only",
            "--augment", "none", *common)
    if not merged.exists():
        lim("data", "merge", args.bijie_records, block, merged)
    results_path = out / "results.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else {"models": {}}
    results.update({"cpu": cpu_model(), "train_args": args.train_args, "jiuzhaigou_adaptation_tiles": len(adapt),
                    "jiuzhaigou_test_tiles": len(test)})
    s2_tiles = test_tiles(args.sentinel2)
    run = out / "run-merged"
    # The baseline is scored first, so a scoring problem shows before the hour of training.
    for name, model in (("bijie only", args.baseline), ("bijie + jiuzhaigou block", run)):
        if name in results["models"]:
            continue
        if model == run and not _finished(run):
            started = time.time()
            lim("train", merged, run, *args.train_args, *(["--resume"] if run.exists() else []))
            results["merged_train_minutes"] = (time.time() - started) / 60
        folder = out / name.replace(" + ", "-and-").replace(" ", "-")
        results["models"][name] = {
            "run": str(model),
            "bijie_test": scored(model, args.bijie_records, folder / "eval-bijie"),
            "jiuzhaigou_test_block": scored(model, block_test, folder / "eval-jiuzhaigou"),
            "sentinel2_test_tiles": zero_shot(str(model), args.sentinel2, s2_tiles, folder / "sentinel2")}
        results_path.write_text(json.dumps(results, indent=2) + "\n")
        for where, scores in results["models"][name].items():
            if isinstance(scores, dict):
                print(f"{name}, {where}: " + ", ".join(f"{k} {v:.3f}" for k, v in scores.items()
                                                        if isinstance(v, float)), flush=True)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
