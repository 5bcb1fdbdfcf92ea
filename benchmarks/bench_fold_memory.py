"""Memory across the folds of a K-fold run: in one process against one fresh process per fold.

Run: .venv/bin/python benchmarks/bench_fold_memory.py [--folds 5] [--width 0.125]
Trains FCN-FL on the synthetic dataset (64-px chips) fold after fold, twice, side by side: all folds
in this process (resident memory measured after each fold) and each fold in a fresh process, as
`lim-tf train --folds all` does by default (each fold's peak, as run.json records it, and this
process's memory before and after). The last line is a JSON object with the values and the growth
from the second fold to the last (the first fold also pays for one-off imports and tracing).
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

from lim_tf.config import ChipConfig, DataConfig, SplitConfig, resolve_train_config  # noqa: E402
from lim_tf.data.build import build_dataset  # noqa: E402
from lim_tf.data.synth import SynthConfig, write_synthetic  # noqa: E402
from lim_tf.training.train import train  # noqa: E402


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


class Probe(keras.callbacks.Callback):
    def __init__(self) -> None:
        super().__init__()
        self.values: list[float] = []

    def on_train_end(self, logs=None) -> None:
        self.values.append(rss_mb())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--width", type=float, default=0.125)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        synthetic = write_synthetic(root / "s", SynthConfig(scene_size=64))
        build_dataset(synthetic / "bijie", root / "records",
                      DataConfig(chip=ChipConfig(size=64), split=SplitConfig(folds=args.folds)), progress=False)
        config = resolve_train_config("fcn-flk", overrides={"width": args.width, "epochs": 2, "log_images": 1})
        parent_before = rss_mb()
        state = train(root / "records", root / "isolated", config, progress=False, isolate=True)
        parent_after = rss_mb()
        isolated = [state.folds[str(k)].peak_memory_mb for k in range(args.folds)]
        probe = Probe()
        train(root / "records", root / "shared", config, progress=False, callbacks=[probe])
    for fold, (shared, own) in enumerate(zip(probe.values, isolated)):
        print(f"fold {fold}: one process {shared:.0f} MB after the fold; own process {own:.0f} MB peak", flush=True)
    print(f"this process around the isolated run: {parent_before:.0f} -> {parent_after:.0f} MB")
    print(json.dumps({
        "one_process_rss_mb_after_fold": probe.values,
        "one_process_growth_mb_second_to_last": probe.values[-1] - probe.values[1],
        "own_process_peak_mb_per_fold": isolated,
        "own_process_growth_mb_second_to_last": isolated[-1] - isolated[1],
        "parent_rss_mb_before_after": [parent_before, parent_after],
    }))


if __name__ == "__main__":
    main()
