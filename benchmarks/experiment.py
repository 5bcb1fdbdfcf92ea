"""Accuracy experiments on a Bijie-layout dataset under the honest protocol (issue 11).

Run: .venv/bin/python benchmarks/experiment.py DATA OUT PLAN.yaml [--test]

PLAN.yaml names record sets and runs:

    records:
      r16: {resolution: 1.6}                       # DataConfig.chip keys (native chips at 1.6 m)
    runs:
      fcnfl-focal: {records: r16, preset: fcn-fl, train: {width: 0.25, tile: 128, epochs: 20}}

Every record set holds out the same test split (10 % of each kind, seed 0: both kinds in the
dataset's ratio) and makes 5 folds of the rest. Each run trains its preset's folds (fold 0 unless
the preset says otherwise) and is scored on the validation fold of each trained fold model,
whole chips at the records' resolution, at the F1-optimal threshold *of that validation data*
(so runs compare by their best achievable validation F1). Choose recipes on these numbers.

--test also scores each run on the held-out test split, with the threshold picked on its
validation folds (never on test), with and without test-time augmentation: report these, do not
tune on them. Results go to OUT/results.json and OUT/results.md; the last line printed is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import yaml  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from common import cpu_model  # noqa: E402

from lim_tf.config import ChipConfig, DataConfig, SplitConfig, from_dict, resolve_train_config  # noqa: E402
from lim_tf.data.build import build_dataset  # noqa: E402
from lim_tf.data.items import record_items  # noqa: E402
from lim_tf.data.manifest import load_manifest  # noqa: E402
from lim_tf.evaluate import EvalRequest, evaluate, evaluate_run  # noqa: E402
from lim_tf.trained.ensemble import load_run  # noqa: E402
from lim_tf.trained.run import RUN_FILE, RunState  # noqa: E402
from lim_tf.training.train import train  # noqa: E402

SCORES = ("f1", "precision", "recall", "iou_landslide", "false_positive_m2_per_km2")


def build(data: Path, out: Path, settings: dict) -> Path:
    if not out.exists():
        chip = from_dict(ChipConfig, settings.get("chip", {k: v for k, v in settings.items() if k != "split"}))
        split = from_dict(SplitConfig, {"test_landslide": 0.1, "folds": 5, "seed": 0, **settings.get("split", {})})
        build_dataset(data, out, DataConfig(chip=chip, split=split), progress=False)
    return out


def validation_scores(run: Path) -> dict:
    """Each trained fold model on its own validation fold, summed; scores at the best threshold."""
    state = RunState.load(run)
    folds = state.done_folds()
    total = None
    for fold in folds:
        member, _ = load_run(run, fold)
        items = record_items(Path(state.records), "val", fold)
        result = evaluate(member, items.items, 0.5, total=items.count, progress=False)
        total = result if total is None else _merge(total, result)
    threshold, f1 = total.sweep.best_threshold()
    at_best = evaluate_sweep_threshold(total, threshold)
    return {"folds": folds, "best_threshold": threshold, "best_f1": f1, "at_0.5": _pick(total.metrics()), **at_best}


def _merge(a, b):
    a.confusion += b.confusion
    a.sweep = a.sweep + b.sweep
    for kind in a.by_kind:
        a.by_kind[kind] += b.by_kind[kind]
    return a


def evaluate_sweep_threshold(result, threshold: float) -> dict:
    """Precision and recall at a threshold, read off the summed probability histograms."""
    curve = result.sweep.curve()
    index = min(int(round(threshold * result.sweep.bins)), result.sweep.bins - 1)
    return {"precision_at_best": float(curve["precision"][index]), "recall_at_best": float(curve["recall"][index])}


def _pick(metrics: dict) -> dict:
    return {key: metrics[key] for key in SCORES}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("plan", type=Path)
    parser.add_argument("--test", action="store_true", help="also score on the held-out test split (report only)")
    parser.add_argument("--only", nargs="*", help="run only these plan entries")
    args = parser.parse_args()
    plan = yaml.safe_load(args.plan.read_text())
    results_path = args.out / "results.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else {}
    args.out.mkdir(parents=True, exist_ok=True)
    for name, spec in plan["runs"].items():
        if args.only and name not in args.only:
            continue
        records = build(args.data, args.out / "records" / spec["records"], plan["records"][spec["records"]])
        run = args.out / "runs" / name
        started = time.time()
        config = resolve_train_config(spec.get("preset", "fcn-fl"), overrides=spec.get("train", {}))
        done = RunState.load(run).done_folds() if (run / RUN_FILE).exists() else []
        wanted = config.folds or range(load_manifest(records).folds)
        if any(k not in done for k in wanted):  # train (or resume) what is left
            train(records, run, config, resume=run.exists(), progress=False)
        recorded = sum(f.train_seconds or 0 for f in RunState.load(run).folds.values())  # a run trained before
        seconds = results.get(name, {}).get("train_seconds") or round(recorded or time.time() - started)
        entry = {"records": spec["records"], "preset": spec.get("preset", "fcn-fl"), "train": spec.get("train", {}),
                 "train_seconds": seconds, "validation": validation_scores(run)}
        if args.test:
            for tta in (False, True):  # one pass, then all four quarter turns
                metrics = evaluate_run(run, run / f"eval-test{'-tta' if tta else ''}",
                                       EvalRequest(threshold="optimal", tta=4 if tta else 1, figures=8), overwrite=True,
                                       progress=False)
                entry["test_tta" if tta else "test"] = {**_pick(metrics), "threshold": metrics["threshold"],
                                                        "landslide_chips": _pick(metrics["landslide_chips"]),
                                                        "non_landslide_chips": _pick(metrics["non_landslide_chips"])}
        results[name] = entry
        results_path.write_text(json.dumps(results, indent=2) + "\n")
        v = entry["validation"]
        print(f"{name}: val best F1 {v['best_f1']:.4f} at {v['best_threshold']:.2f} (P {v['precision_at_best']:.3f} "
              f"R {v['recall_at_best']:.3f}); at 0.5 F1 {v['at_0.5']['f1']:.4f}; {seconds} s", flush=True)
    lines = ["| run | records | val best F1 | threshold | val F1 @0.5 | test F1 | test P | test R | test IoU | "
             "test F1 TTA | minutes |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, e in results.items():
        t, tt = e.get("test", {}), e.get("test_tta", {})
        cell = lambda d, k: f"{d[k]:.4f}" if k in d else ""  # noqa: E731
        lines.append(f"| {name} | {e['records']} | {e['validation']['best_f1']:.4f} | "
                     f"{e['validation']['best_threshold']:.2f} | {e['validation']['at_0.5']['f1']:.4f} | "
                     f"{cell(t, 'f1')} | {cell(t, 'precision')} | {cell(t, 'recall')} | {cell(t, 'iou_landslide')} | "
                     f"{cell(tt, 'f1')} | {e['train_seconds'] / 60:.1f} |")
    (args.out / "results.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(json.dumps({"cpu": cpu_model(), "results": results}))


if __name__ == "__main__":
    main()
