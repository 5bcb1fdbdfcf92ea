"""Input pipeline speed against what one FCN-FL training step consumes, measured in one run.

Run: .venv/bin/python benchmarks/bench_input.py [--batches 300] [--steps 3]
Builds the synthetic dataset at 256 x 256 in a temporary folder, times the tf.data pipeline
(parallel reads, decoding, online flips/rotations, shuffle, batch 8) and then full-width FCN-FL
training steps at batch 8 in the auto precision (bf16 where the CPU has it). The last line is a
JSON object with both rates and their ratio (target: at least 20).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(__file__))

from common import training_images_per_second  # noqa: E402
from lim_tf.config import DataConfig  # noqa: E402
from lim_tf.data.build import build_dataset  # noqa: E402
from lim_tf.data.pipeline import PipelineConfig, make_dataset  # noqa: E402
from lim_tf.data.synth import SynthConfig, write_synthetic  # noqa: E402
from lim_tf.train import resolve_precision  # noqa: E402

BATCH = 8


def pipeline_images_per_second(records: Path, batches: int) -> float:
    """Images/s the training pipeline delivers with online augmentation."""
    dataset = make_dataset(records, "train", 0, PipelineConfig(batch_size=BATCH, augment=True), repeat=True)
    iterator = iter(dataset)
    for _ in range(10):  # fill the prefetch and shuffle buffers
        next(iterator)
    start = time.perf_counter()
    images = sum(int(next(iterator)[0].shape[0]) for _ in range(batches))
    return images / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=300, help="pipeline batches to time")
    parser.add_argument("--steps", type=int, default=3, help="training steps to time")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        synthetic = write_synthetic(Path(folder) / "synth", SynthConfig(scene_size=64))
        records = Path(folder) / "records"
        build_dataset(synthetic / "bijie", records, DataConfig(), progress=False)
        delivered = pipeline_images_per_second(records, args.batches)
        print(f"pipeline: {delivered:.1f} images/s", flush=True)
    policy = resolve_precision("auto")
    consumed, _ = training_images_per_second("fcn-fl", policy, 256, BATCH, args.steps)
    print(f"training ({policy}): {consumed:.2f} images/s", flush=True)
    print(json.dumps({"size": 256, "batch_size": BATCH, "precision": policy,
                      "pipeline_images_per_second": delivered, "training_images_per_second": consumed,
                      "ratio": delivered / consumed}))


if __name__ == "__main__":
    main()
