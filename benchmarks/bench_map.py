"""Scene mapping speed and memory: end to end against the bare model, for two scene sizes.

Run: .venv/bin/python benchmarks/bench_map.py [--sizes 1024 3072] [--width 1.0]
Maps generated scenes (noise with bright discs covering about 2 % of the area, about 100 per 10
megapixels, like the landslides of a real map) with a full-width, untrained FCN-FL (auto precision)
whose probability is averaged with a 1 x 1 detector of the discs, so the map has landslide-like
objects while every pixel still pays for the whole network (--raw-model maps the network alone:
its near-0.5 output gives thousands of speckle polygons per megapixel, a harsh case for the vector
stage) at the default tile and overlap,
each in its own process so its peak memory is its own, and times the bare model over the same
number of pixels held in memory (tiles without margins, no I/O). The last line is a JSON object:
megapixels/s end to end (reading, predicting, COGs, polygons, quicklook; after the one-off model
load, which is reported too) and bare, their ratio (target >= 0.85) and peak memory per scene size
(target: flat as the scene grows).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from lim_tf.mapping.config import PredictConfig  # noqa: E402


def write_scene(path: Path, size: int) -> None:
    from lim_tf.testing import write_blob_scene

    write_blob_scene(path, size, pixel=1, origin=(430000, 3020000))


def child(scene: str, model: str, out: str, tile: str) -> None:
    """Map one scene and report seconds and peak resident memory of this process."""
    from lim_tf.mapping.config import MapConfig, PredictConfig
    from lim_tf.mapping.scene_map import map_scene

    start = time.perf_counter()
    config = MapConfig(predict=PredictConfig(tile=int(tile)))
    summary = map_scene(Path(scene), Path(model), Path(out), config, progress=False)
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"seconds": seconds, "peak_mb": peak_mb, "breakdown": summary.seconds,
                      "landslides": summary.landslides}))


def with_disc_detector(model):
    """Average the network's probability with sigmoid(band 1 - 227.5): over 0.5 exactly on the discs."""
    import keras
    import numpy as np

    detector = keras.layers.Conv2D(1, 1, activation="sigmoid", dtype="float32", name="discs")
    discs = detector(model.input)
    kernel = np.zeros((1, 1, 3, 1), np.float32)
    kernel[0, 0, 0, 0] = 1.0
    detector.set_weights([kernel, np.array([-227.5], np.float32)])
    return keras.Model(model.input, keras.layers.Average(dtype="float32", name="mean")([model.output, discs]))


def bare_megapixels_per_second(model_path: Path, pixels: int, tile: int, batch: int) -> float:
    """The model alone on in-memory tiles of the mapping's tile size and batch (no margins, no I/O)."""
    import numpy as np

    from lim_tf.models import load_model

    model = load_model(model_path)
    images = np.random.default_rng(1).uniform(0, 255, (batch, tile, tile, 3)).astype(np.float32)
    model.predict_on_batch(images)  # trace and warm up
    batches = max(3, round(pixels / (batch * tile * tile)))  # at least 3: one batch is a noisy clock
    start = time.perf_counter()
    for _ in range(batches):
        model.predict_on_batch(images)
    return batches * batch * tile * tile / 1e6 / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs=2, default=[1024, 3072])
    parser.add_argument("--tile", type=int, default=PredictConfig().tile, help="tile edge (default: map's default)")
    parser.add_argument("--width", type=float, default=1.0)
    parser.add_argument("--raw-model", action="store_true",
                        help="keep the untrained model's near-0.5 output (thousands of polygons per megapixel)")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    from lim_tf.models import ModelConfig, build_model
    from lim_tf.models.precision import resolve_precision

    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        model_path = root / "fcn_fl.keras"
        policy = resolve_precision("auto")
        model = build_model(ModelConfig(name="fcn-fl", width=args.width, mean=(120.0,) * 3, std=(50.0,) * 3,
                                        policy=policy))
        if not args.raw_model:
            model = with_disc_detector(model)
        model.save(model_path)
        runs = {}
        for size in args.sizes:
            write_scene(root / f"scene{size}.tif", size)
            done = subprocess.run([sys.executable, __file__, "--child", str(root / f"scene{size}.tif"),
                                   str(model_path), str(root / f"map{size}"), str(args.tile)],
                                  capture_output=True, text=True)
            if done.returncode:
                sys.exit(f"mapping {size} x {size} failed:\n{done.stderr[-3000:]}")
            runs[size] = json.loads(done.stdout.strip().splitlines()[-1])
            mapping_seconds = runs[size]["seconds"] - runs[size]["breakdown"]["load_model"]
            runs[size]["megapixels_per_second"] = size * size / 1e6 / mapping_seconds
            runs[size]["megapixels_per_second_with_load"] = size * size / 1e6 / runs[size]["seconds"]
            print(f"{size} x {size}: {runs[size]['megapixels_per_second']:.3f} Mpx/s end to end after loading "
                  f"the model ({runs[size]['megapixels_per_second_with_load']:.3f} with it), "
                  f"{runs[size]['landslides']} polygons, peak {runs[size]['peak_mb']:.0f} MB", flush=True)
        largest = max(args.sizes)
        bare = bare_megapixels_per_second(model_path, largest * largest, args.tile, PredictConfig().batch_size)
        print(f"bare model: {bare:.3f} Mpx/s", flush=True)
    end_to_end = runs[largest]["megapixels_per_second"]
    print(json.dumps({"model": "fcn-fl", "width": args.width, "precision": policy, "tile": args.tile,
                      "overlap": PredictConfig().margin, "batch_size": PredictConfig().batch_size,
                      "end_to_end_megapixels_per_second": end_to_end, "bare_model_megapixels_per_second": bare,
                      "ratio": end_to_end / bare,
                      "end_to_end_with_model_load_megapixels_per_second": runs[largest]["megapixels_per_second_with_load"],
                      "breakdown_seconds": {str(size): runs[size]["breakdown"] for size in args.sizes},
                      "peak_memory_mb": {str(size): runs[size]["peak_mb"] for size in args.sizes},
                      "seconds": {str(size): runs[size]["seconds"] for size in args.sizes}}))


if __name__ == "__main__":
    main()
