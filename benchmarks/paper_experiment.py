"""The paper's comparison on a Bijie-layout dataset, within a CPU budget, plus the focal-loss ablation.

Run: .venv/bin/python benchmarks/paper_experiment.py ../shared/data/bijie runs/experiment \
         [--chip-size 128] [--width 0.25] [--epochs 8] [--seed 0]

Same records, epochs and seed for every model: FCN (cross-entropy), FCN-FL (focal loss), FCN-FLK
(5 folds, mean probability), U-Net and SegNet; then FCN-FL with Lin et al.'s alpha convention and
with gamma 0 and 2. Each is scored on the held-out test split (70 landslide chips, as in the paper)
at threshold 0.5; OUT/comparison.md holds the paper-style table, OUT/ablation.md the ablation.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from lim_tf.config import ChipConfig, DataConfig, SplitConfig, resolve_train_config  # noqa: E402
from lim_tf.data.build import build_dataset  # noqa: E402
from lim_tf.evaluate import EvalRequest, comparison_table, evaluate_run  # noqa: E402
from lim_tf.train import train  # noqa: E402

MAIN = [("FCN", "fcn", {}), ("FCN-FL", "fcn-fl", {}), ("FCN-FLK", "fcn-flk", {}), ("U-Net", "unet", {}),
        ("SegNet", "segnet", {})]
ABLATION = [("FL alpha_for=landslide (Lin)", "fcn-fl", {"loss.alpha_for": "landslide"}),
            ("FL gamma=0", "fcn-fl", {"loss.gamma": 0.0}),
            ("FL gamma=2", "fcn-fl", {"loss.gamma": 2.0})]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--chip-size", type=int, default=128)
    parser.add_argument("--width", type=float, default=0.25)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--learning-rate", type=float, default=3e-4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-ablation", action="store_true")
    args = parser.parse_args()
    started = time.time()
    records = args.out / "records"
    if not records.exists():
        build_dataset(args.data, records, DataConfig(chip=ChipConfig(size=args.chip_size),
                                                     split=SplitConfig(test_landslide=70, folds=5, seed=args.seed)))
    common = {"width": args.width, "epochs": args.epochs, "batch_size": args.batch_size,
              "learning_rate": args.learning_rate, "seed": args.seed}
    results, timings = {}, {}
    for label, preset, overrides in MAIN + ([] if args.no_ablation else ABLATION):
        run = args.out / "runs" / label.replace(" ", "_").replace("=", "").replace("(", "").replace(")", "")
        start = time.time()
        train(records, run, resolve_train_config(preset, overrides={**common, **overrides}), resume=run.exists())
        results[label] = evaluate_run(run, run / "eval-test", EvalRequest(threshold=0.5, figures=8), overwrite=True)
        timings[label] = round(time.time() - start)
        print(f"{label}: F1 {results[label]['f1']:.4f}, mIoU {results[label]['miou']:.4f} ({timings[label]} s)",
              flush=True)
    main_table = comparison_table({label: results[label] for label, _, _ in MAIN})
    (args.out / "comparison.md").write_text(main_table[0])
    (args.out / "comparison.csv").write_text(main_table[1])
    if not args.no_ablation:
        names = ["FCN-FL"] + [label for label, _, _ in ABLATION]
        (args.out / "ablation.md").write_text(comparison_table({n: results[n] for n in names})[0])
    summary = {"settings": vars(args) | {"data": str(args.data), "out": str(args.out)}, "seconds": timings,
               "total_seconds": round(time.time() - started)}
    (args.out / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    print(main_table[0])
    print(json.dumps(summary, default=str))


if __name__ == "__main__":
    main()
