"""A model rebuilt in float32: the same layers and weights, every layer's dtype policy float32.

Runs trained in mixed bfloat16 or float16 keep float32 variables but compute in 16 bits; exports
that other runtimes execute (ONNX Runtime) and weights that ship are taken from this rebuild, so
they compute what the weights say on any CPU.
"""

from __future__ import annotations

from typing import Any

import keras

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
