"""A model rebuilt in float32: the same layers and weights, every layer's dtype policy float32.

Runs trained in mixed bfloat16 or float16 keep float32 variables but compute in 16 bits; exports
that other runtimes execute (ONNX Runtime) and weights that ship are taken from this rebuild, so
they compute what the weights say on any CPU.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lim_tf.runtime.quiet import keras, tf

MIXED = ("mixed_bfloat16", "mixed_float16", "bfloat16", "float16")


def _float32_policies(config: Any) -> Any:
    if isinstance(config, dict):
        if config.get("class_name") == "DTypePolicy" and config.get("config", {}).get("name") in MIXED:
            return {**config, "config": {**config["config"], "name": "float32"}}
        return {key: ("float32" if key == "dtype" and value in MIXED else _float32_policies(value))
                for key, value in config.items()}
    if isinstance(config, list):
        return [_float32_policies(item) for item in config]
    return config


def as_float32(model: keras.Model) -> keras.Model:
    """`model` itself when it computes in float32, else a float32 rebuild with its weights."""
    if all(getattr(layer.dtype_policy, "compute_dtype", "float32") == "float32" for layer in model.layers):
        return model
    rebuilt = model.__class__.from_config(_float32_policies(model.get_config()))
    rebuilt.set_weights(model.get_weights())
    return rebuilt


def cpu_has_bf16(cpuinfo: str | None = None) -> bool:
    """Whether this CPU has native bfloat16 arithmetic (AVX512-BF16 or AMX)."""
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return False
    return "avx512_bf16" in cpuinfo or "amx_bf16" in cpuinfo


def explain_precision(precision: str, gpu: bool | None = None, bf16: bool | None = None) -> tuple[str, str]:
    """The dtype policy `precision` stands for on this machine, and why. `auto` is mixed_float16 on
    GPUs, mixed_bfloat16 only where the CPU computes bfloat16 natively (elsewhere TensorFlow would
    emulate it, slower than float32), and float32 otherwise."""
    if precision != "auto":
        return precision, "as asked"
    if tf.config.list_physical_devices("GPU") if gpu is None else gpu:
        return "mixed_float16", "a GPU is visible: float16 compute with float32 variables"
    if cpu_has_bf16() if bf16 is None else bf16:
        return "mixed_bfloat16", "the CPU has bfloat16 units (avx512_bf16 or amx_bf16)"
    return "float32", "the CPU has no bfloat16 units: bfloat16 would be emulated, slower than float32"


def resolve_precision(precision: str) -> str:
    """The dtype policy: mixed_float16 on GPUs, mixed_bfloat16 on CPUs with bf16 units, else float32."""
    return explain_precision(precision)[0]
