"""Memory a job will need, estimated from the model before it runs, and what the machine has: a tile
or batch size that cannot fit is refused with the estimate, not left to the kernel's OOM killer."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from lim_tf.errors import ConfigError, size_text
from lim_tf.runtime.quiet import keras

PROBE = 64  # pixels: the side of the image the layer sizes are measured on
# Measured peaks divided by these estimates stayed below 1 (benchmarks/bench_map.py, full-width
# FCN-FL, tiles of 1024 and 2048 px); the margin covers TensorFlow's buffer pools.
MARGIN = 1.3


def available_bytes() -> int | None:
    """Memory this process may still take: the kernel's MemAvailable, within a cgroup limit if one is set."""
    limits = []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                limits.append(int(line.split()[1]) * 1024)
    except OSError:
        pass
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        used = int(Path("/sys/fs/cgroup/memory.current").read_text())
        if limit != "max":
            limits.append(int(limit) - used)
    except (OSError, ValueError):
        pass
    return min(limits) if limits else None


@functools.lru_cache(maxsize=8)
def _layer_sizes(model: keras.Model) -> tuple[float, float, int]:
    """(largest input + output of one layer, sum of all layer outputs), as values per input pixel,
    and the bytes of one value in the model's compute precision."""
    bands = model.input.shape[-1]
    layers = [layer for layer in model.layers if not isinstance(layer, keras.layers.InputLayer)]
    # A layer may have several outputs (SegNet's pooling also returns its indices): count them all.
    per_layer = [keras.tree.flatten(layer.output) for layer in layers]
    probe = keras.Model(model.input, [out for outs in per_layer for out in outs])
    flat = iter(probe(np.zeros((1, PROBE, PROBE, bands), np.float32)))
    sizes = [sum(float(np.prod(next(flat).shape[1:])) for _ in outs) / PROBE**2 for outs in per_layer]
    peak = max(a + b for a, b in zip([bands] + sizes[:-1], sizes))
    half = any(str(getattr(layer, "compute_dtype", "")) in ("bfloat16", "float16") for layer in layers)
    return peak, float(sum(sizes)), 2 if half else 4


def weight_bytes(model: keras.Model) -> int:
    return int(sum(np.prod(w.shape) * 4 for w in model.weights))


def inference_estimate(models: list[keras.Model]) -> dict[str, float]:
    """What prediction memory depends on, saved with a run so a client can check a machine without
    loading the models: the members' weight bytes, and the largest layer's input and output bytes
    per input pixel (layers before it are freed)."""
    peak = max(_layer_sizes(model)[0] * _layer_sizes(model)[2] for model in models)
    return {"weight_bytes": float(sum(weight_bytes(m) for m in models)), "peak_bytes_per_pixel": float(peak)}


def inference_bytes(models: list[keras.Model] | dict[str, float], pixels: int, batch: int,
                    activation_scale: float = 1.0) -> int:
    """Peak memory to predict `batch` windows of `pixels` with every member (models, or their
    saved `inference_estimate`); `activation_scale` is what another runtime holds of the layers'
    outputs per byte TensorFlow holds."""
    estimate = models if isinstance(models, dict) else inference_estimate(models)
    activations = estimate["peak_bytes_per_pixel"] * pixels * batch * activation_scale
    return int(MARGIN * (estimate["weight_bytes"] + activations))


def training_bytes(model: keras.Model, pixels: int, batch: int) -> int:
    """Peak memory of a training step: weights, gradients and Adam's two moments, and every
    layer's output kept for the backward pass with its gradient."""
    _, total, width = _layer_sizes(model)
    return int(MARGIN * (4 * weight_bytes(model) + 2 * total * width * pixels * batch))


def check_fits(needed: int, what: str, advice: str) -> None:
    """Refuse work whose estimate exceeds what the machine has free."""
    free = available_bytes()
    if free is not None and needed > free:
        raise ConfigError(f"{what} needs about {size_text(needed)} but {size_text(free)} are free; {advice}")
