"""Training speed of the network a preset trains, against this machine's matmul ceiling.

Run: .venv/bin/python benchmarks/bench_train.py [--preset cpu] [--steps 5] [--xla] [--keras-batchnorm]

The bare training step (a fixed batch, no input pipeline or callbacks) of the preset's network at
its tile and batch size, in the precision `auto` picks here (and in float32 too where that is
bfloat16, for the ratio), against the matmul ceiling of the same precision. `auto` never picks an
emulated bfloat16 path: the script prints what it chose and why, and whether `train` compiles the
step with XLA here (--xla times the best precision with XLA for the ratio). Without --preset it times the
full-width FCN-FL at 256 px, batch 8 (the paper's network), as earlier versions did. The fit loop
with the real input pipeline against this bare step is benchmarks/bench_fit.py.
Prints a JSON object as its last line.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(__file__))

import keras  # noqa: E402
import tensorflow as tf  # noqa: E402
from common import cpu_model, forward_flops, matmul_flops_per_second, training_images_per_second  # noqa: E402

from lim_tf.config import PRESETS, resolve_train_config  # noqa: E402
from lim_tf.models import segnet, unet, vgg  # noqa: E402
from lim_tf.models.precision import explain_precision  # noqa: E402
from lim_tf.models.xla import explain_xla  # noqa: E402
from lim_tf.training.train import make_loss  # noqa: E402

TRAIN_FACTOR = 3.0  # a training step is about forward + 2x for the backward pass
CEILING_DTYPE = {"float32": tf.float32, "mixed_bfloat16": tf.bfloat16, "mixed_float16": tf.float16}


@contextlib.contextmanager
def keras_batchnorm():
    """Build the architectures with Keras' BatchNormalization, as before FusedBatchNorm, for the ratio."""
    modules = (unet, vgg, segnet)
    saved = [module.FusedBatchNorm for module in modules]
    for module in modules:
        module.FusedBatchNorm = keras.layers.BatchNormalization  # type: ignore[misc]
    try:
        yield
    finally:
        for module, layer in zip(modules, saved):
            module.FusedBatchNorm = layer  # type: ignore[misc]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=sorted(PRESETS), help="time this preset's network, tile and batch")
    parser.add_argument("--steps", type=int, default=5, help="timed steps per precision")
    parser.add_argument("--width", type=float, help="override the network width")
    parser.add_argument("--xla", action="store_true", help="also time the best precision compiled with XLA")
    parser.add_argument("--keras-batchnorm", action="store_true",
                        help="also time the best precision with Keras' own BatchNormalization (before FusedBatchNorm)")
    args = parser.parse_args()
    if args.preset:
        config = resolve_train_config(args.preset)
        name, width, size, batch, bn = config.model, config.width, config.tile, config.batch_size, config.encoder_bn
        loss = make_loss(config.loss, None)  # type: ignore[arg-type]  (no records: cross-entropy or focal as set)
    else:
        name, width, size, batch, bn, loss = "fcn-fl", 1.0, 256, 8, False, None
    width = args.width or width
    best, why = explain_precision("auto")
    print(f"CPU: {cpu_model()}; auto precision: {best} ({why})", flush=True)
    results, flops = {}, 0.0
    for policy in dict.fromkeys((best, "float32")):  # the best first; float32 too for the ratio
        rate, model = training_images_per_second(name, policy, size, batch, args.steps, width, batch_norm=bn, loss=loss)
        flops = forward_flops(model, size, 3) * TRAIN_FACTOR
        ceiling = matmul_flops_per_second(CEILING_DTYPE[policy])
        results[policy] = {"images_per_second": rate, "ceiling_gflops": ceiling / 1e9,
                           "achieved_gflops": rate * flops / 1e9, "fraction_of_ceiling": rate * flops / ceiling}
        print(f"{policy}: {rate:.2f} tiles/s of {size} px = {rate * flops / 1e9:.1f} GFLOP/s, "
              f"{rate * flops / ceiling:.2f} of the {ceiling / 1e9:.1f} GFLOP/s matmul ceiling", flush=True)
    xla, why_xla = explain_xla("auto", best)
    print(f"training uses XLA here: {'yes' if xla else 'no'} ({why_xla})", flush=True)
    if args.xla:
        rate, _ = training_images_per_second(name, best, size, batch, args.steps, width, batch_norm=bn, loss=loss,
                                             jit_compile=True)
        ceiling = results[best]["ceiling_gflops"] * 1e9
        results["xla"] = {"precision": best, "images_per_second": rate, "achieved_gflops": rate * flops / 1e9,
                          "fraction_of_ceiling": rate * flops / ceiling,
                          "vs_without": rate / results[best]["images_per_second"]}
        print(f"{best} with XLA: {rate:.2f} tiles/s = {rate * flops / 1e9:.1f} GFLOP/s, "
              f"{rate * flops / ceiling:.2f} of the ceiling, {results['xla']['vs_without']:.2f} x without", flush=True)
    if args.keras_batchnorm:
        with keras_batchnorm():
            rate, _ = training_images_per_second(name, best, size, batch, args.steps, width, batch_norm=bn, loss=loss)
        ceiling = results[best]["ceiling_gflops"] * 1e9
        results["keras_batchnorm"] = {"precision": best, "images_per_second": rate,
                                      "fraction_of_ceiling": rate * flops / ceiling,
                                      "fused_vs_keras": results[best]["images_per_second"] / rate}
        print(f"{best} with Keras' BatchNormalization: {rate:.2f} tiles/s, {rate * flops / ceiling:.2f} of the "
              f"ceiling; FusedBatchNorm is {results['keras_batchnorm']['fused_vs_keras']:.2f} x as fast", flush=True)
    print(json.dumps({
        "cpu": cpu_model(), "preset": args.preset, "model": name, "width": width, "encoder_bn": bn, "tile": size,
        "batch_size": batch, "steps": args.steps, "auto_precision": best, "why": why,
        "train_xla": xla, "train_xla_why": why_xla, "train_gflops_per_tile": flops / 1e9, "results": results,
        **({"best_vs_float32": results[best]["images_per_second"] / results["float32"]["images_per_second"]}
           if best != "float32" else {}),
    }))


if __name__ == "__main__":
    main()
