"""ONNX Runtime against TensorFlow for mapping: the same model on the same tiles, in one run.

Run alone: .venv/bin/python benchmarks/bench_onnx.py [--tile 1024] [--tiles 6]
For each network (the CPU recipe's width-0.25 U-Net with the VGG16-BN encoder, and FCN-FL at half
width: converting the full width needs about 40 GB, see lim_tf.export.onnx_file), times the bare prediction of `--tiles` random tiles of `--tile` px, one at a time as
`lim-tf map` predicts them: TensorFlow in the precision `auto` picks here (what `map` uses for a
model trained on this machine), TensorFlow in float32, and ONNX Runtime (float32, the exported
graph) on all cores. Prints megapixels/s, the ratio ONNX Runtime / TensorFlow, the largest
probability difference from TensorFlow float32, and the CPU; the last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from common import cpu_model, tile_seconds  # noqa: E402

from lim_tf.export.onnx_file import INPUT_SCALE, convert, onnx_session  # noqa: E402
from lim_tf.models import ModelConfig, build_model  # noqa: E402
from lim_tf.models.precision import (
    as_float32,  # noqa: E402
    resolve_precision,  # noqa: E402
)
from lim_tf.trained.ensemble import Ensemble  # noqa: E402

NETWORKS = {"cpu-recipe unet w0.25 bn": dict(name="unet", width=0.25, batch_norm=True),
            "cpu-recipe unet w0.5 bn": dict(name="unet", width=0.5, batch_norm=True),
            "cpu-recipe unet w0.18 bn": dict(name="unet", width=0.18, batch_norm=True),  # a 0.8 m candidate
            "fcn-fl w0.5": dict(name="fcn-fl", width=0.5)}  # the full width is too large for tf2onnx here


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tile", type=int, default=1024)
    parser.add_argument("--tiles", type=int, default=6)
    parser.add_argument("--networks", nargs="*", default=list(NETWORKS))
    args = parser.parse_args()
    policy = resolve_precision("auto")
    rng = np.random.default_rng(0)
    tiles = [rng.uniform(0, 255, (1, args.tile, args.tile, 3)).astype(np.float32) for _ in range(args.tiles)]
    megapixels = args.tiles * args.tile**2 / 1e6
    results = {}
    for label in args.networks:
        spec = NETWORKS[label]
        model = build_model(ModelConfig(**spec, mean=(120.0,) * 3, std=(50.0,) * 3, policy=policy))
        float32 = as_float32(model)
        session = onnx_session(convert(Ensemble([float32], ["m"])))
        run_onnx = lambda t: session.run(None, {"image": np.transpose(t, (0, 3, 1, 2)) / INPUT_SCALE})[0]  # noqa: E731
        timings = {f"tensorflow {policy}": tile_seconds(Ensemble([model], ["m"]).predict_members, tiles),
                   "tensorflow float32": tile_seconds(Ensemble([float32], ["m"]).predict_members, tiles),
                   "onnxruntime float32": tile_seconds(run_onnx, tiles)}
        difference = float(np.abs(run_onnx(tiles[0])[0, 0] - float32.predict_on_batch(tiles[0])[0, ..., 0]).max())
        rates = {k: megapixels / v for k, v in timings.items()}
        results[label] = {"mpx_per_s": rates, "onnx_over_tf_auto": rates["onnxruntime float32"] / rates[
            f"tensorflow {policy}"], "onnx_over_tf_float32": rates["onnxruntime float32"] / rates["tensorflow float32"],
                          "max_abs_difference_vs_tf_float32": difference}
        print(f"{label}: " + ", ".join(f"{k} {v:.3f} Mpx/s" for k, v in rates.items())
              + f"; ONNX/TF-{policy} {results[label]['onnx_over_tf_auto']:.2f}, ONNX/TF-float32 "
              f"{results[label]['onnx_over_tf_float32']:.2f}; max |ONNX - TF float32| {difference:.1e}", flush=True)
    print(json.dumps({"cpu": cpu_model(), "auto_precision": policy, "tile": args.tile, "tiles": args.tiles,
                      "results": results}))


if __name__ == "__main__":
    main()
