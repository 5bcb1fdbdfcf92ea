"""The VGG16 encoder shared by every architecture, and loading its weights by layer name."""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lim_tf.errors import ConfigError
from lim_tf.models.layers import FusedBatchNorm, MaxPoolWithArgmax
from lim_tf.runtime.quiet import keras

# (filters, convolutions) per block; layer names follow keras.applications.VGG16 so weights load by name.
VGG16_BLOCKS = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))
IMAGENET_FILE = "vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"
# Where and how keras.applications.VGG16 fetches the same file (checked by its MD5).
IMAGENET_URL = "https://storage.googleapis.com/tensorflow/keras-applications/vgg16/" + IMAGENET_FILE
IMAGENET_MD5 = "6d6bbae143d832006294945121d1f1fc"


def scaled(filters: int, width: float) -> int:
    """Filters at a width multiplier (1.0 is the paper's network); at least 4."""
    return max(4, int(round(filters * width)))


@dataclass(frozen=True)
class Stage:
    """One encoder block: its last convolution's output, the pooled output and argmax indices."""

    features: keras.KerasTensor
    pooled: keras.KerasTensor
    indices: keras.KerasTensor | None = None


def conv(x, filters: int, name: str, policy: str, kernel: int = 3, activation: str | None = "relu"):
    """A same-padded convolution in the run's precision policy."""
    return keras.layers.Conv2D(filters, kernel, padding="same", activation=activation, name=name, dtype=policy)(x)


def vgg16_encoder(x, width: float, policy: str, argmax: bool = False, batch_norm: bool = False) -> list[Stage]:
    """The five VGG16 blocks; stage k's pooled output is at 1/2^(k+1) of the input size.

    With `batch_norm` every convolution is followed by batch normalisation before its ReLU (as in
    VGG16-BN), which trains far more readily from scratch when no pretrained weights are at hand."""
    stages = []
    for block, (filters, convs) in enumerate(VGG16_BLOCKS, start=1):
        for index in range(1, convs + 1):
            name = f"block{block}_conv{index}"
            if batch_norm:
                x = conv(x, scaled(filters, width), name, policy, activation=None)
                x = FusedBatchNorm(name=f"block{block}_bn{index}", dtype=policy)(x)
                x = keras.layers.ReLU(name=f"block{block}_relu{index}", dtype=policy)(x)
            else:
                x = conv(x, scaled(filters, width), name, policy)
        features = x
        if argmax:
            x, indices = MaxPoolWithArgmax(name=f"block{block}_pool", dtype=policy)(x)
        else:
            x, indices = keras.layers.MaxPooling2D(2, name=f"block{block}_pool", dtype=policy)(x), None
        stages.append(Stage(features, x, indices))
    return stages


def imagenet_weights_path() -> Path:
    """Where Keras caches the ImageNet VGG16 weights (KERAS_HOME, else ~/.keras)."""
    return _keras_home() / "models" / IMAGENET_FILE


def _keras_home() -> Path:
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras"))


def imagenet_weights(url: str = IMAGENET_URL, md5: str = IMAGENET_MD5) -> Path:
    """The ImageNet VGG16 encoder weights from the Keras cache, downloaded into it first (as
    keras.applications does) when they are not there yet."""
    path = imagenet_weights_path()
    if path.exists():
        return path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)  # else Keras falls back to /tmp/.keras
        return Path(keras.utils.get_file(IMAGENET_FILE, url, file_hash=md5, cache_subdir="models",
                                         cache_dir=str(_keras_home())))
    except Exception as error:  # noqa: BLE001 - offline, refused, or a corrupt download: all say the same
        reason = str(error).splitlines()[0][:120] if str(error) else type(error).__name__
        raise ConfigError(f"encoder weights: ImageNet weights are not in the Keras cache ({path}) and could not be "
                          f"downloaded from {url} ({reason}); download {IMAGENET_FILE} there or pass its path") from error


def load_encoder_weights(model: keras.Model, source: str, band_std: np.ndarray | None = None) -> None:
    """Copy VGG16 weights ('imagenet': the Keras cache, downloaded when missing; or a local file)
    into the encoder by layer name.

    The ImageNet filters expect BGR pixels in 0-255 less the mean; the model normalises each band
    to unit variance, so the first kernels are flipped to RGB and scaled by the bands' std. Bands
    beyond RGB keep their own initialised filters.
    """
    path = imagenet_weights() if source == "imagenet" else Path(source)
    if not path.exists():
        raise ConfigError(f"encoder weights {path}: not found; check the path")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)  # Keras warns, and carries on, when layers do not match
            reference = keras.applications.VGG16(include_top=False, weights=str(path), input_shape=(None, None, 3))
    except (ValueError, OSError, UserWarning) as error:
        raise ConfigError(f"{path}: not VGG16 encoder weights ({str(error).splitlines()[0][:160]}); "
                          "pass a Keras VGG16 include_top=False weights file") from error
    for layer in reference.layers:
        if not layer.name.startswith("block") or not layer.weights:
            continue
        target = model.get_layer(layer.name)
        kernel, bias = layer.get_weights()
        own_kernel, _ = target.get_weights()
        if own_kernel.shape[3] != kernel.shape[3]:
            raise ConfigError(f"{path}: pretrained weights need width 1.0; this model has width "
                              f"{own_kernel.shape[3] / kernel.shape[3]:g}")
        if layer.name == "block1_conv1":
            rgb = kernel[:, :, ::-1, :]
            if band_std is not None:
                rgb = rgb * np.asarray(band_std[:3], np.float32)[None, None, :, None]
            own_kernel[:, :, :3, :] = rgb
            kernel = own_kernel
        target.set_weights([kernel, bias])
