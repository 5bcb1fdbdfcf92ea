"""Mapping in int8 on a CPU without bfloat16 units: faster, and as accurate? One run, side by side.

Run alone: .venv/bin/python benchmarks/bench_int8.py RECORDS [--model bijie] [--tile 1024] [--tiles 4]
                                                    [--calibration 64]

The shipped model is exported as `lim-tf export --format onnx` does, then
quantised after training with ONNX Runtime's static quantisation (QDQ, int8 weights per output
channel, uint8 activations), calibrated on `--calibration` training chips of RECORDS (never the
test split). Four paths are compared:
- TensorFlow float32 (what `map` runs on such a CPU),
- TensorFlow mixed_float16 (float16 compute; emulated on a CPU without float16 arithmetic),
- ONNX Runtime float32 (the exported graph),
- ONNX Runtime int8.
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
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from common import cpu_model, tile_seconds  # noqa: E402

from lim_tf.data.items import record_items  # noqa: E402
from lim_tf.data.sample import IGNORE, LANDSLIDE  # noqa: E402
from lim_tf.ensemble import Ensemble  # noqa: E402
from lim_tf.metrics import Confusion  # noqa: E402
from lim_tf.models.precision import resolve_precision  # noqa: E402
from lim_tf.onnx_model import INPUT_SCALE, OnnxEnsemble, convert, onnx_session  # noqa: E402
from lim_tf.zoo import is_zoo_name  # noqa: E402
from lim_tf.zoo import load as load_zoo  # noqa: E402

Predict = Callable[[np.ndarray], np.ndarray]  # [1, H, W, bands] pixels -> [H, W] probability


def quantise(float_path: Path, int8_path: Path, chips: list[np.ndarray]) -> None:
    """Static post-training quantisation of the ONNX file, calibrated on `chips` ([H, W, bands])."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Chips(CalibrationDataReader):
        def __init__(self) -> None:
            self.feed: Iterator[np.ndarray] = iter(chips)

        def get_next(self) -> dict[str, np.ndarray] | None:
            chip = next(self.feed, None)
            return None if chip is None else {"image": _nchw(chip[None])}

    prepared = float_path.with_suffix(".pre.onnx")
    quant_pre_process(str(float_path), str(prepared), skip_symbolic_shape=True)  # folding, as ORT advises
    quantize_static(str(prepared), str(int8_path), Chips(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)


def _nchw(pixels: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(np.transpose(pixels, (0, 3, 1, 2)) / INPUT_SCALE, dtype=np.float32)


def onnx_predict(source: Ensemble, path: Path) -> Predict:
    """`source` through the ONNX file at `path`, as `map --runtime onnx` predicts."""
    import onnx

    onnx_model = OnnxEnsemble(source, onnx_session(onnx.load(str(path))))
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
    work = Path(tempfile.mkdtemp(prefix="bench-int8-"))
    float_path, int8_path = work / "float32.onnx", work / "int8.onnx"
    float_path.write_bytes(convert(float32, members=True).SerializeToString())
    train = [image for _, image, _ in record_items(args.records, "train").items]  # both kinds, in record order
    calibration = [train[i].astype(np.float32) for i in np.linspace(0, len(train) - 1, args.calibration).astype(int)]
    quantise(float_path, int8_path, calibration)
    paths: dict[str, Predict] = {"tensorflow float32": lambda p: float32.predict(p)[0],
                                 "tensorflow mixed_float16": lambda p: float16.predict(p)[0],
                                 "onnxruntime float32": onnx_predict(float32, float_path),
                                 "onnxruntime int8": onnx_predict(float32, int8_path)}
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
    for name in ("tensorflow mixed_float16", "onnxruntime float32", "onnxruntime int8"):
        results[name]["speed_vs_tf_float32"] = results[name]["mpx_per_s"] / base["mpx_per_s"]
        results[name]["f1_minus_tf_float32"] = results[name]["f1"] - base["f1"]
    print(json.dumps({"cpu": cpu_model(), "auto_precision": resolve_precision("auto"), "model": args.model, "threshold": threshold, "tile": args.tile,
                      "tiles": args.tiles, "calibration_chips": args.calibration,
                      "int8_bytes": int8_path.stat().st_size, "float32_bytes": float_path.stat().st_size,
                      "results": results}))


if __name__ == "__main__":
    main()
