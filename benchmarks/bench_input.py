"""Input pipeline speed against what one FCN-FL training step consumes, measured in one run.

Run: .venv/bin/python benchmarks/bench_input.py [--batches 300] [--steps 3] [--records R]
Builds the synthetic dataset (native chips) in a temporary folder, times the tf.data pipeline
(decoding once, chip-kind sampling, scale jitter, crops, flips and turns, photometric changes)
for 256-px tiles in batches of 8 and for the CPU recipe's 128-px tiles in batches of 16, then
the training steps that consume them (full-width FCN-FL; the recipe's width-0.25 U-Net), in the
auto precision. The last line is JSON with the rates and their ratios (target: at least 20 for
the full-width network).
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

from common import cpu_model, training_images_per_second  # noqa: E402

from lim_tf.config import DataConfig  # noqa: E402
from lim_tf.data.build import build_dataset  # noqa: E402
from lim_tf.data.pipeline import PipelineConfig, make_dataset  # noqa: E402
from lim_tf.data.synth import SynthConfig, write_synthetic  # noqa: E402
from lim_tf.models.precision import resolve_precision  # noqa: E402

BATCH = 8


def pipeline_images_per_second(records: Path, batches: int, tile: int = 256, batch: int = BATCH) -> tuple[float, float]:
    """Tiles/s the training pipeline delivers with every online augmentation (scale jitter, crop,
    flips and turns, photometric) and chip-kind sampling, and the CPU milliseconds each tile costs
    (what the pipeline takes from a training step that uses every core)."""
    dataset = make_dataset(records, "train", 0, PipelineConfig(batch_size=batch, tile=tile))
    iterator = iter(dataset)
    for _ in range(10):  # fill the prefetch and shuffle buffers
        next(iterator)
    start, cpu = time.perf_counter(), time.process_time()
    images = sum(int(next(iterator)[0].shape[0]) for _ in range(batches))
    return images / (time.perf_counter() - start), (time.process_time() - cpu) / images * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=300, help="pipeline batches to time")
    parser.add_argument("--steps", type=int, default=3, help="training steps to time")
    parser.add_argument("--records", type=Path, help="existing records (e.g. Bijie at 1.6 m); default: generated")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        records = args.records or Path(folder) / "records"
        if args.records is None:
            synthetic = write_synthetic(Path(folder) / "synth", SynthConfig(scene_size=64))
            build_dataset(synthetic / "bijie", records, DataConfig(), progress=False)
        delivered, _ = pipeline_images_per_second(records, args.batches)
        print(f"pipeline, 256 px: {delivered:.1f} images/s", flush=True)
        recipe_delivered, recipe_cpu = pipeline_images_per_second(records, args.batches, tile=128, batch=16)
        print(f"pipeline, 128 px (the CPU recipe): {recipe_delivered:.1f} images/s, {recipe_cpu:.2f} CPU ms each",
              flush=True)
    policy = resolve_precision("auto")
    consumed, _ = training_images_per_second("fcn-fl", policy, 256, BATCH, args.steps)
    print(f"training full-width FCN-FL ({policy}): {consumed:.2f} images/s", flush=True)
    recipe, _ = training_images_per_second("unet", policy, 128, 16, args.steps * 3, width=0.25)
    print(f"training the CPU recipe's U-Net ({policy}): {recipe:.2f} images/s", flush=True)
    print(json.dumps({"cpu": cpu_model(), "precision": policy,
                      "full_width": {"size": 256, "batch_size": BATCH, "pipeline_images_per_second": delivered,
                                     "training_images_per_second": consumed, "ratio": delivered / consumed},
                      "cpu_recipe": {"size": 128, "batch_size": 16, "pipeline_images_per_second": recipe_delivered,
                                     "pipeline_cpu_ms_per_image": recipe_cpu,
                                     "training_images_per_second": recipe, "ratio": recipe_delivered / recipe}}))


if __name__ == "__main__":
    main()
