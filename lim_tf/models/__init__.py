"""Architectures by name. Every model takes raw pixels (normalisation is inside) at any size and
returns one float32 channel: the landslide probability."""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lim_tf.config import ModelName
from lim_tf.errors import ConfigError, InputError
from lim_tf.models.fcn import fcn_fl_logits, fcn_logits
from lim_tf.models.layers import CropToReference, PadToMultiple
from lim_tf.models.segnet import segnet_logits
from lim_tf.models.unet import unet_logits
from lim_tf.models.vgg import load_encoder_weights
from lim_tf.runtime.quiet import keras

# Layers build_model keeps in float32 whatever the precision policy: the input's normalisation and
# padding, and the probability output.
FLOAT32_LAYERS = ("normalize", "pad", "probability")
# The one table of architectures: config.ModelName lists its keys (tests/test_models.py checks they agree).
MODELS: dict[str, Callable] = {
    "fcn": fcn_logits,
    "fcn-fl": fcn_fl_logits,
    "unet": unet_logits,
    "segnet": segnet_logits,
}


@dataclass(frozen=True)
class ModelConfig:
    """What a builder needs: architecture, bands, width, normalisation, precision, encoder weights."""

    name: ModelName = "fcn-fl"
    bands: int = 3
    width: float = 1.0
    mean: tuple[float, ...] = ()  # per band; empty means 0
    std: tuple[float, ...] = ()  # per band; empty means 1
    policy: str = "float32"  # a Keras dtype policy: float32, mixed_bfloat16, mixed_float16
    encoder_weights: str | None = None  # None, "imagenet" or a weights file path
    batch_norm: bool = False  # batch normalisation after every encoder convolution (VGG16-BN)


def normalization_moments(mean: Sequence[float], std: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Per-band mean and variance of the model's input normalisation, in float32 (one rule for every
    model built or adapted, so the same statistics give the same bits)."""
    spread = np.asarray(std, np.float32)
    return np.asarray(mean, np.float32), np.square(np.maximum(spread, np.float32(1e-6)))


def build_model(config: ModelConfig) -> keras.Model:
    """Build the named architecture around a normalising input and a float32 probability output."""
    if config.name not in MODELS:
        raise ConfigError(f"unknown model {config.name!r}; choose from {', '.join(MODELS)}")
    if config.width <= 0:
        raise ConfigError(f"width must be positive, got {config.width}")
    mean, variance = normalization_moments(config.mean or [0.0] * config.bands, config.std or [1.0] * config.bands)
    if len(mean) != config.bands or len(variance) != config.bands:
        raise ConfigError(f"normalisation has {len(mean)} means for {config.bands} bands")
    inputs = keras.Input((None, None, config.bands), name="image")
    x = keras.layers.Normalization(mean=mean, variance=variance, name="normalize")(inputs)
    x = PadToMultiple(32, name="pad")(x)
    if config.batch_norm and config.encoder_weights:
        raise ConfigError("encoder weights are for VGG16 without batch normalisation; drop --encoder-bn or the weights")
    logits = MODELS[config.name](x, config.width, config.policy, batch_norm=config.batch_norm)
    logits = CropToReference(name="crop", dtype=config.policy)([logits, inputs])
    probability = keras.layers.Activation("sigmoid", dtype="float32", name="probability")(logits)
    model = keras.Model(inputs, probability, name=config.name.replace("-", "_"))
    if config.encoder_weights:
        load_encoder_weights(model, config.encoder_weights, np.sqrt(variance))
    return model


def load_model(path: str | Path, trust: bool = False) -> keras.Model:
    """Load a saved .keras model (lim-tf's custom layers are registered by importing this module).

    A model file can carry code (a Lambda layer's Python function), so it loads in Keras's safe
    mode, which refuses such code, unless the caller trusts where the file came from."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: model file not found")
    if path.is_file() and not zipfile.is_zipfile(path):  # Keras would call it "not found"
        raise InputError(f"{path}: cannot load: not a Keras model file (a .keras file is a zip archive); give a model saved "
                         "by 'lim-tf train' or keras.Model.save")
    try:
        return keras.saving.load_model(path, compile=False, safe_mode=not trust)
    except Exception as error:  # Keras raises many types for a bad archive
        if "safe_mode" in str(error):
            raise InputError(f"{path}: the model holds Python code (a Lambda layer), which is not run unless you "
                             "trust its source; a model file is a program: pass --trust-model only if you do") from error
        raise InputError(f"{path}: cannot load as a Keras model ({str(error).splitlines()[0][:200]})") from error


def skip_inputs(model: keras.Model) -> Sequence[str]:
    """Names of the encoder feature maps the decoder adds in (for inspection and tests)."""
    return [layer.name for layer in model.layers if layer.name.startswith("score_pool")]
