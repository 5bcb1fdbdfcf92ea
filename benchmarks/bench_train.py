"""Training speed of full-width FCN-FL at 256 x 256, batch 8, against this machine's matmul ceiling.

Run: .venv/bin/python benchmarks/bench_train.py [--steps 3]
Prints a JSON object as its last line: images/s in float32 and mixed precision, FLOPs per image,
the achieved fraction of the matmul ceiling in each precision, and the batch settings.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(__file__))

import tensorflow as tf  # noqa: E402
from common import forward_flops, matmul_flops_per_second, training_images_per_second  # noqa: E402

from lim_tf.train import resolve_precision  # noqa: E402

SIZE, BATCH = 256, 8
TRAIN_FACTOR = 3.0  # a training step is about forward + 2x for the backward pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3, help="timed steps per precision")
    parser.add_argument("--width", type=float, default=1.0)
    args = parser.parse_args()
    mixed = resolve_precision("auto")
    mixed = mixed if mixed != "float32" else "mixed_bfloat16"
    results = {}
    for policy in ("float32", mixed):
        rate, model = training_images_per_second("fcn-fl", policy, SIZE, BATCH, args.steps, args.width)
        results[policy] = rate
        print(f"{policy}: {rate:.2f} images/s", flush=True)
    flops = forward_flops(model, SIZE, 3) * TRAIN_FACTOR
    ceiling_f32 = matmul_flops_per_second(tf.float32)
    ceiling_mixed = matmul_flops_per_second(tf.bfloat16 if "bfloat16" in mixed else tf.float16)
    print(f"matmul ceiling: float32 {ceiling_f32 / 1e9:.1f} GFLOP/s, {mixed} {ceiling_mixed / 1e9:.1f} GFLOP/s")
    print(json.dumps({
        "model": "fcn-fl", "width": args.width, "size": SIZE, "batch_size": BATCH, "steps": args.steps,
        "train_flops_per_image": flops,
        "images_per_second": {"float32": results["float32"], "mixed": results[mixed]},
        "mixed_policy": mixed, "auto_policy": resolve_precision("auto"),
        "ceiling_flops_per_second": {"float32": ceiling_f32, "mixed": ceiling_mixed},
        "fraction_of_ceiling": {"float32": results["float32"] * flops / ceiling_f32,
                                "mixed": results[mixed] * flops / ceiling_mixed},
        "mixed_speedup": results[mixed] / results["float32"],
    }))


if __name__ == "__main__":
    main()
