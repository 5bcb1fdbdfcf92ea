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
- the Sentinel-2 Chittagong test block (a sensor neither saw; one ground mosaic, distinct blob
  counts, bands stretched to each model's training statistics, as benchmarks/adapt_sentinel2.py
  scores zero-shot).
One threshold serves every source, and the merged run's is chosen on validation folds where the
Jiuzhaigou block's landslide-rich tiles weigh most; so the merged model is also scored at the
threshold each source's own part of the validation folds picks, and at the one that maximises the
mean of the sources' validation F1 (`per_source_thresholds`; still validation only).
Results go to OUT/results.json (each entry computed once; delete one to recompute it); the last
line printed is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(__file__))

from adapt import link_folder, split_blocks  # noqa: E402
from adapt_sentinel2 import BLOCKS, mosaic, tiles, zero_shot  # noqa: E402
from common import cpu_model, lim  # noqa: E402

from lim_tf.data.manifest import load_manifest  # noqa: E402
from lim_tf.data.pipeline import record_files  # noqa: E402
from lim_tf.data.records import read_records  # noqa: E402
from lim_tf.evaluate import evaluate  # noqa: E402
from lim_tf.metrics import ThresholdSweep  # noqa: E402
from lim_tf.trained.ensemble import load_run, read_run_state  # noqa: E402

PICK = ("f1", "precision", "recall", "iou_landslide", "false_positive_m2_per_km2")



def scored(run: Path, records: Path, out: Path, threshold: float | None = None) -> dict:
    """Pixel scores of `run` on the test split of `records`, at the run's validation threshold."""
    lim("eval", run, "--records", records, "--out", out, "--figures", 0, "--overwrite",
        *(["--threshold", threshold] if threshold is not None else []))
    metrics = json.loads((out / "metrics.json").read_text())
    picked = {key: metrics[key] for key in PICK if key in metrics}
    if metrics.get("at_kind_ratio"):
        picked["at_kind_ratio"] = {key: metrics["at_kind_ratio"][key] for key in ("kind_ratio", "f1", "precision")}
    return {"threshold": metrics["threshold"], **picked}


def source_sweeps(run: Path, records: Path) -> dict[str, ThresholdSweep]:
    """Each source's part of the run's validation folds (merged shards are named s<i>-...), swept."""
    manifest, sweeps = load_manifest(records), {}
    for k in read_run_state(run).done_folds():
        member, _ = load_run(run, k)
        files = record_files(records, manifest, "val", k)
        for source in sorted({f.name.split("-", 1)[0] for f in files}):
            part = [f for f in files if f.name.startswith(f"{source}-")]
            items = ((c.chip_id, c.image, c.mask) for c in read_records(part) if c.augmentation == "none")
            sweep = evaluate(member, items, 0.5, progress=False).sweep
            sweeps[source] = sweeps.get(source, ThresholdSweep()) + sweep
    return sweeps


def per_source_thresholds(run: Path, records: Path) -> dict:
    """Each source's F1-optimal validation threshold, and the one best for the sources' mean F1."""
    curves = {source: sweep.curve() for source, sweep in source_sweeps(run, records).items()}
    mean_f1 = np.mean([curve["f1"] for curve in curves.values()], axis=0)
    best = int(np.argmax(mean_f1))
    return {"by_source": {source: {"threshold": float(c["threshold"][np.argmax(c["f1"])]),
                                   "validation_f1": float(c["f1"].max())} for source, c in curves.items()},
            "balanced": {"threshold": float(best / len(mean_f1)), "validation_mean_f1": float(mean_f1[best])}}


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
    s2_block = mosaic(args.sentinel2, tiles(BLOCKS["east"]), out / "sentinel2-test-block")
    run = out / "run-merged"
    # The baseline is scored first, so a scoring problem shows before the hour of training.
    for name, model in (("bijie only", args.baseline), ("bijie + jiuzhaigou block", run)):
        if model == run and not _finished(run):
            started = time.time()
            lim("train", merged, run, *args.train_args, *(["--resume"] if run.exists() else []))
            results["merged_train_minutes"] = (time.time() - started) / 60
        folder = out / name.replace(" + ", "-and-").replace(" ", "-")
        entry = results["models"].setdefault(name, {"run": str(model)})
        for where, score in (("bijie_test", lambda: scored(model, args.bijie_records, folder / "eval-bijie")),
                             ("jiuzhaigou_test_block", lambda: scored(model, block_test, folder / "eval-jiuzhaigou")),
                             ("sentinel2_test_block", lambda: zero_shot(str(model), s2_block, folder / "sentinel2"))):
            if where not in entry:
                entry[where] = score()
                results_path.write_text(json.dumps(results, indent=2) + "\n")
            print(f"{name}, {where}: " + ", ".join(f"{k} {v:.3f}" for k, v in entry[where].items()
                                                    if isinstance(v, float)), flush=True)
    merged_entry = results["models"]["bijie + jiuzhaigou block"]
    if "per_source_thresholds" not in merged_entry:
        chosen = per_source_thresholds(run, merged)
        bijie_at, jiuzhaigou_at = chosen["by_source"]["s0"]["threshold"], chosen["by_source"]["s1"]["threshold"]
        balanced = chosen["balanced"]["threshold"]
        folder = out / "bijie-and-jiuzhaigou-block"
        chosen["bijie_test_at_its_threshold"] = scored(run, args.bijie_records, folder / "eval-bijie-s0", bijie_at)
        chosen["jiuzhaigou_test_block_at_its_threshold"] = scored(run, block_test, folder / "eval-jiuzhaigou-s1",
                                                                  jiuzhaigou_at)
        chosen["bijie_test_at_balanced"] = scored(run, args.bijie_records, folder / "eval-bijie-bal", balanced)
        chosen["jiuzhaigou_test_block_at_balanced"] = scored(run, block_test, folder / "eval-jiuzhaigou-bal",
                                                             balanced)
        merged_entry["per_source_thresholds"] = chosen
        results_path.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
