"""A GPU check, ready to run on a machine with one or more GPUs (no GPU has run lim-tf yet).

Run: .venv/bin/python benchmarks/gpu_check.py [--tests] [--scene 10000]

On a machine with GPUs it:
- runs the test suite's GPU-relevant tests (training, replicas, models, export, mapping) with --tests;
- times a training step of the full-width FCN-FL (256 px, batch 8) and of the CPU recipe's network
  (its tile and batch) in mixed float16, against the GPU's own float16 matmul ceiling;
- trains a few steps under MirroredStrategy over all visible GPUs, and over 2 logical GPUs carved
  from the first one (the cross-replica path on a single card);
- maps a generated --scene x --scene scene with the full-width FCN-FL;
and prints one JSON line. On a machine without a GPU it says so in one line and exits 0.

--cpu-replicas N runs the same code paths on N logical CPU devices at tiny sizes instead, so the
script itself is tested where no GPU is (tests/test_gpu_check.py).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(__file__))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

GPU_TESTS = ["tests/test_train.py", "tests/test_models.py", "tests/test_export.py", "tests/test_mapping.py",
             "tests/test_precision.py", "tests/test_budget.py"]


def carve_devices(kind: str, count: int, memory_mb: int = 4096) -> list[str]:
    """Split the first physical device of `kind` into `count` logical ones (before TensorFlow starts);
    their names."""
    physical = tf.config.list_physical_devices(kind)
    if count > 1:
        memory = {"memory_limit": memory_mb} if kind == "GPU" else {}
        tf.config.set_logical_device_configuration(physical[0], [tf.config.LogicalDeviceConfiguration(**memory)] * count)
    return [device.name for device in tf.config.list_logical_devices(kind)]


def step_rate(name: str, policy: str, size: int, batch: int, width: float, steps: int, batch_norm: bool = False,
              strategy: tf.distribute.Strategy | None = None) -> float:
    """Tiles/s of the bare training step (random batch), under `strategy` if given."""
    import keras

    from lim_tf.models import ModelConfig, build_model
    from lim_tf.training.losses import FocalLoss
    from lim_tf.training.optimizers import make_optimizer

    keras.backend.clear_session()
    strategy = strategy or tf.distribute.get_strategy()
    with strategy.scope():
        model = build_model(ModelConfig(name=name, bands=3, width=width, mean=(120.0,) * 3, std=(50.0,) * 3,
                                        policy=policy, batch_norm=batch_norm))
        model.compile(optimizer=make_optimizer("adam", 1e-4, policy), loss=FocalLoss())
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (batch, size, size, 3)).astype(np.float32)
    y = (rng.random((batch, size, size, 1)) > 0.9).astype(np.float32)
    data = tf.data.Dataset.from_tensors((x, y)).repeat()
    model.fit(data, steps_per_epoch=2, epochs=1, verbose=0)  # trace and warm up
    start = time.perf_counter()
    model.fit(data, steps_per_epoch=steps, epochs=1, verbose=0)
    return steps * batch / (time.perf_counter() - start)


def flops_per_tile(name: str, size: int, width: float, batch_norm: bool = False) -> float:
    from common import forward_flops

    from lim_tf.models import ModelConfig, build_model

    model = build_model(ModelConfig(name=name, bands=3, width=width, mean=(120.0,) * 3, std=(50.0,) * 3,
                                    batch_norm=batch_norm))
    return 3.0 * forward_flops(model, size, 3)  # forward and backward


def matmul_ceiling(dtype: tf.DType, device: str, n: int) -> float:
    with tf.device(device):
        a = tf.cast(tf.random.uniform((n, n)), dtype)
        product = tf.function(lambda: tf.linalg.matmul(a, a))
        product().numpy()
        start = time.perf_counter()
        for _ in range(5):
            product().numpy()
    return 5 * 2.0 * n**3 / (time.perf_counter() - start)


def map_timing(size: int, width: float, folder: Path) -> dict:
    """Megapixels/s of `lim-tf map`'s library call on a generated scene, with an untrained FCN-FL."""
    from lim_tf.mapping.config import MapConfig, PolygonOptions, PredictConfig
    from lim_tf.mapping.scene_map import map_scene
    from lim_tf.models import ModelConfig, build_model
    from lim_tf.models.precision import resolve_precision
    from lim_tf.testing import write_blob_scene

    scene = write_blob_scene(folder / "scene.tif", size)
    model = build_model(ModelConfig(name="fcn-fl", bands=3, width=width, mean=(120.0,) * 3, std=(50.0,) * 3,
                                    policy=resolve_precision("auto")))
    model.save(folder / "model.keras")
    start = time.perf_counter()
    summary = map_scene(scene, folder / "model.keras", folder / "map",
                        MapConfig(predict=PredictConfig(tile=min(512, size)), threshold=0.99,
                                  polygons=PolygonOptions(min_area=1e9)), progress=False)
    seconds = time.perf_counter() - start
    return {"size": size, "seconds": round(seconds, 2), "megapixels_per_second": size * size / 1e6 / seconds,
            "landslides": summary.landslides}


def run_tests() -> dict:
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *GPU_TESTS],
                          capture_output=True, text=True, cwd=Path(__file__).resolve().parents[1])
    return {"returncode": done.returncode, "summary": done.stdout.strip().splitlines()[-1] if done.stdout else ""}


def mirrored_rate(devices: list[str], recipe: tuple, policy: str, steps: int) -> dict:
    name, size, batch, width, bn = recipe
    strategy = tf.distribute.MirroredStrategy(devices)
    rate = step_rate(name, policy, size, batch * len(devices), width, steps, bn, strategy)
    return {"replicas": strategy.num_replicas_in_sync, "devices": devices, "tiles_per_second": rate}


def carved_in_own_process(memory_mb: int, steps: int) -> dict:
    """MirroredStrategy over 2 logical GPUs carved from the first: in a fresh process, since
    logical devices must be set before TensorFlow starts (and the timings above want whole cards)."""
    done = subprocess.run([sys.executable, __file__, "--carve", str(memory_mb), "--steps", str(steps)],
                          capture_output=True, text=True)
    if done.returncode:
        return {"error": done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "failed"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tests", action="store_true", help="also run the GPU-relevant tests")
    parser.add_argument("--scene", type=int, default=10000, help="side of the mapped scene in pixels")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--cpu-replicas", type=int, default=0,
                        help="exercise the code paths on this many logical CPUs at tiny sizes (no GPU needed)")
    parser.add_argument("--carve", type=int, metavar="MB", help=argparse.SUPPRESS)  # the child of the carve check
    args = parser.parse_args()
    kind = "CPU" if args.cpu_replicas else "GPU"
    if kind == "GPU" and not tf.config.list_physical_devices("GPU"):
        print("gpu_check: no GPU visible to TensorFlow on this machine; nothing to check")
        return
    tiny = kind == "CPU"
    policy = "float32" if tiny else "mixed_float16"  # CPUs have no float16 units: tiny runs check the paths
    full = ("fcn-fl", 32 if tiny else 256, 2 if tiny else 8, 1 / 16 if tiny else 1.0, False)
    recipe = ("unet", 32 if tiny else 128, 2 if tiny else 16, 1 / 16 if tiny else 0.25, True)
    if args.carve:
        print(json.dumps(mirrored_rate(carve_devices("GPU", 2, args.carve), recipe, policy, args.steps)))
        return
    physical = len(tf.config.list_physical_devices(kind))
    devices = carve_devices(kind, max(args.cpu_replicas, 1)) if tiny else [d.name for d in tf.config.list_logical_devices("GPU")]
    ceiling = matmul_ceiling(tf.float32 if tiny else tf.float16, devices[0], 256 if tiny else 8192)
    report: dict = {"devices": {"kind": kind, "physical": physical, "logical": devices}, "policy": policy,
                    "matmul_ceiling_gflops": ceiling / 1e9, "steps": {}}
    for label, (name, size, batch, width, bn) in (("fcn-fl", full), ("cpu-recipe", recipe)):
        rate = step_rate(name, policy, size, batch, width, args.steps, bn)
        flops = flops_per_tile(name, size, width, bn)
        report["steps"][label] = {"tiles_per_second": rate, "tile": size, "batch": batch, "width": width,
                                  "fraction_of_ceiling": rate * flops / ceiling}
    if len(devices) > 1:
        report["mirrored"] = mirrored_rate(devices, recipe, policy, args.steps)
    if not tiny:
        report["mirrored_carved"] = carved_in_own_process(4096, args.steps)
    with tempfile.TemporaryDirectory() as folder:
        report["map"] = map_timing(64 if tiny else args.scene, width=1 / 16 if tiny else 1.0, folder=Path(folder))
    if args.tests:
        report["tests"] = run_tests()
    print(json.dumps(report))


if __name__ == "__main__":
    main()
