"""Helpers shared by the benchmarks: FLOP counts, timing of training steps, matmul ceilings, lim-tf runs."""

from __future__ import annotations

import subprocess
import sys
import time

import keras
import numpy as np
import tensorflow as tf

from lim_tf.models import ModelConfig, build_model
from lim_tf.training.losses import FocalLoss
from lim_tf.training.optimizers import make_optimizer


def cpu_model() -> str:
    """The CPU's model name (benchmarks report it: figures depend on the machine)."""
    import platform
    from pathlib import Path

    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def forward_flops(model: keras.Model, size: int, bands: int) -> float:
    """Multiply-add FLOPs (2 per MAC) of the convolutions for one size x size image."""
    layers = [l for l in model.layers if isinstance(l, (keras.layers.Conv2D, keras.layers.Conv2DTranspose))]
    probe = keras.Model(model.input, [l.output for l in layers])
    outputs = probe(np.zeros((1, size, size, bands), np.float32))
    total = 0.0
    for layer, out in zip(layers, outputs):
        kernel = layer.kernel.shape  # Conv2D (k, k, in, out); Conv2DTranspose (k, k, out, in)
        height, width = out.shape[1], out.shape[2]
        if isinstance(layer, keras.layers.Conv2DTranspose):
            height, width = height // layer.strides[0], width // layer.strides[1]
        total += 2.0 * height * width * kernel[0] * kernel[1] * kernel[2] * kernel[3]
    return total


def training_images_per_second(name: str, policy: str, size: int, batch: int, steps: int,
                               width: float = 1.0, bands: int = 3, batch_norm: bool = False,
                               loss: keras.losses.Loss | None = None,
                               jit_compile: bool = False) -> tuple[float, keras.Model]:
    """Images/s of compiled training steps (the training's Adam; focal loss unless given) on a fixed
    random batch: the bare step, without input pipeline or callbacks; with XLA if asked (the
    choice `train` makes by itself is lim_tf.models.xla.explain_xla's)."""
    keras.backend.clear_session()
    model = build_model(ModelConfig(name=name, bands=bands, width=width, mean=(120.0,) * bands,
                                    std=(50.0,) * bands, policy=policy, batch_norm=batch_norm))
    model.compile(optimizer=make_optimizer("adam", 1e-4, policy), loss=loss or FocalLoss(), jit_compile=jit_compile)
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (batch, size, size, bands)).astype(np.float32)
    y = (rng.random((batch, size, size, 1)) > 0.9).astype(np.float32)
    model.train_on_batch(x, y)  # trace and warm up
    model.train_on_batch(x, y)
    start = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y)
    return steps * batch / (time.perf_counter() - start), model


def matmul_flops_per_second(dtype: tf.DType, n: int = 4096, repeats: int = 6) -> float:
    """Achieved FLOP/s of an n x n matrix product: this machine's arithmetic ceiling in `dtype`."""
    a = tf.random.uniform((n, n), dtype=tf.float32)
    a, b = tf.cast(a, dtype), tf.cast(tf.transpose(a), dtype)
    product = tf.function(lambda: tf.linalg.matmul(a, b))
    product().numpy()
    start = time.perf_counter()
    for _ in range(repeats):
        product().numpy()
    return repeats * 2.0 * n**3 / (time.perf_counter() - start)


def tile_seconds(predict, tiles: list[np.ndarray]) -> float:
    """Seconds to predict `tiles` one at a time, as `map` does, after one untimed call (tracing)."""
    predict(tiles[0])
    start = time.perf_counter()
    for tile in tiles:
        predict(tile)
    return time.perf_counter() - start


def lim(*args: object) -> None:
    """One quiet `lim-tf` command, run as a user runs it; a failure stops the benchmark."""
    subprocess.run([sys.executable, "-m", "lim_tf_cli.main", "-q", *map(str, args)], check=True)
