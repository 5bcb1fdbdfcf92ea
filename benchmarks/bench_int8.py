"""Mapping in int8 on a CPU without bfloat16 units: faster, and as accurate? One run, side by side.

Run alone: .venv/bin/python benchmarks/bench_int8.py RECORDS [--model bijie] [--tile 1024] [--tiles 4]
                                                    [--calibration 64]

The shipped model is converted as `map --runtime onnx` converts it, then quantised after training
as `map --runtime onnx-int8` quantises it (lim_tf.trained.onnx_model.quantise: static, QDQ, int8 weights per
output channel, uint8 activations), calibrated three ways on `--calibration` chips of RECORDS:
training chips of both kinds; training chips without landslides, which stand for the windows of a
scene `map` calibrates on (mostly ground without landslides); and, as `map` calibrates on the scene
it maps, the test chips' own pixels (their labels unused). Six paths are compared:
- TensorFlow float32 (what `map` runs on such a CPU),
- TensorFlow mixed_float16 (float16 compute; emulated on a CPU without float16 arithmetic),
- ONNX Runtime float32 (the converted graph),
- ONNX Runtime int8, each calibration.
Speed: bare prediction of `--tiles` random tiles of `--tile` px, one at a time as `map` predicts.
Accuracy: F1, precision and recall on RECORDS' test split (whole chips, the model's own threshold),
pixels summed over chips. The issue's bar for offering int8: faster, with F1 within 0.005 of float32.
ONNX Runtime in float16 is not timed: its CPU provider has no float16 convolution kernels (the graph
would be cast back to float32 around every convolution). The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from common import cpu_model, tile_seconds  # noqa: E402

from lim_tf.data.items import record_items  # noqa: E402
from lim_tf.data.sample import IGNORE, LANDSLIDE  # noqa: E402
from lim_tf.metrics import Confusion  # noqa: E402
from lim_tf.models.precision import resolve_precision  # noqa: E402
from lim_tf.trained.ensemble import Ensemble  # noqa: E402
from lim_tf.trained.onnx_model import OnnxEnsemble, convert, onnx_session, quantise  # noqa: E402
from lim_tf.zoo import is_zoo_name  # noqa: E402
from lim_tf.zoo import load as load_zoo  # noqa: E402

Predict = Callable[[np.ndarray], np.ndarray]  # [1, H, W, bands] pixels -> [H, W] probability


def onnx_predict(source: Ensemble, proto: Any) -> Predict:
    """`source` through the ONNX graph `proto`, as `map --runtime onnx` predicts."""
    onnx_model = OnnxEnsemble(source, onnx_session(proto))
    return lambda pixels: onnx_model.predict_members(pixels)[0, 0]


def scores(predict: Predict, records: Path, threshold: float) -> dict[str, float]:
    """Pixel scores of `predict` on the test split's original chips, confusion summed over chips."""
    total = Confusion()
    for _, image, mask in record_items(records, "test").items:
        probability = predict(image[None].astype(np.float32))
        total = total + Confusion.from_masks(mask == LANDSLIDE, probability >= threshold, mask != IGNORE)
    return {k: v for k, v in total.scores().items() if k in ("f1", "precision", "recall", "iou_landslide")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("records", type=Path, help="records at the model's resolution (test split scored)")
    parser.add_argument("--model", default="bijie", help="a shipped model's name")
    parser.add_argument("--tile", type=int, default=1024)
    parser.add_argument("--tiles", type=int, default=4)
    parser.add_argument("--calibration", type=int, default=64, help="training chips that calibrate int8")
    args = parser.parse_args()
    if not is_zoo_name(args.model):
        raise SystemExit(f"{args.model}: give a shipped model's name (lim-tf models lists them)")
    model, state = load_zoo(args.model)
    float32 = Ensemble([model], [args.model])
    float16 = Ensemble([load_zoo(args.model, "mixed_float16")[0]], [args.model])
    threshold = float(state.threshold)
    float_graph = convert(float32, members=True)
    train = list(record_items(args.records, "train").items)  # both kinds, in record order
    background = [image for _, image, mask in train if not (mask == LANDSLIDE).any()]
    test = [image for _, image, _ in record_items(args.records, "test").items]

    def spread(images: list[np.ndarray]) -> list[np.ndarray]:
        return [images[i].astype(np.float32) for i in np.linspace(0, len(images) - 1, args.calibration).astype(int)]

    calibrations = {"both kinds": spread([image for _, image, _ in train]),
                    # what a scene's windows mostly are: ground without landslides
                    "non-landslide chips only": spread(background),
                    # as map calibrates on the scene it maps: the scored pixels themselves, labels unused
                    "the test chips' own pixels": spread(test)}
    int8_graphs, quantise_seconds = {}, {}
    for name, chips in calibrations.items():
        started = time.perf_counter()
        int8_graphs[name] = quantise(float_graph, chips)
        quantise_seconds[name] = time.perf_counter() - started
    paths: dict[str, Predict] = {"tensorflow float32": lambda p: float32.predict(p)[0],
                                 "tensorflow mixed_float16": lambda p: float16.predict(p)[0],
                                 "onnxruntime float32": onnx_predict(float32, float_graph),
                                 **{f"onnxruntime int8, calibrated on {name}": onnx_predict(float32, graph)
                                    for name, graph in int8_graphs.items()}}
    rng = np.random.default_rng(0)
    tiles = [rng.uniform(0, 255, (1, args.tile, args.tile, float32.bands)).astype(np.float32)
             for _ in range(args.tiles)]
    megapixels = args.tiles * args.tile**2 / 1e6
    results = {}
    for name, predict in paths.items():
        rate = megapixels / tile_seconds(predict, tiles)
        results[name] = {"mpx_per_s": rate, **scores(predict, args.records, threshold)}
        print(f"{name}: {rate:.3f} Mpx/s; test F1 {results[name]['f1']:.4f}, precision "
              f"{results[name]['precision']:.4f}, recall {results[name]['recall']:.4f}", flush=True)
    base = results["tensorflow float32"]
    for name in list(results)[1:]:
        results[name]["speed_vs_tf_float32"] = results[name]["mpx_per_s"] / base["mpx_per_s"]
        results[name]["f1_minus_tf_float32"] = results[name]["f1"] - base["f1"]
    print(json.dumps({"cpu": cpu_model(), "auto_precision": resolve_precision("auto"), "model": args.model, "threshold": threshold, "tile": args.tile,
                      "tiles": args.tiles, "calibration_chips": args.calibration,
                      "int8_bytes": int8_graphs["both kinds"].ByteSize(), "float32_bytes": float_graph.ByteSize(),
                      "quantise_seconds": quantise_seconds,
                      "results": results}))


if __name__ == "__main__":
    main()
