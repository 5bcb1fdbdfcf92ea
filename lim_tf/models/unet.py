"""U-Net with the VGG16 encoder: transposed-convolution upsampling and concatenated skips."""

from __future__ import annotations

from lim_tf.models.layers import FusedBatchNorm
from lim_tf.models.vgg import scaled, vgg16_encoder
from lim_tf.runtime.quiet import keras


def _decoder_block(x, skip, filters: int, name: str, policy: str):
    x = keras.layers.Conv2DTranspose(filters, 2, strides=2, name=f"{name}_up", dtype=policy)(x)
    x = keras.layers.Concatenate(name=f"{name}_concat", dtype=policy)([x, skip])
    for index in (1, 2):
        x = keras.layers.Conv2D(filters, 3, padding="same", use_bias=False, name=f"{name}_conv{index}",
                                dtype=policy)(x)
        x = FusedBatchNorm(name=f"{name}_bn{index}", dtype=policy)(x)
        x = keras.layers.ReLU(name=f"{name}_relu{index}", dtype=policy)(x)
    return x


def unet_logits(x, width: float, policy: str, batch_norm: bool = False):
    """Decoder from block5 (1/16) up through blocks 4..1, each joined by concatenation."""
    stages = vgg16_encoder(x, width, policy, batch_norm=batch_norm)
    x = stages[4].features
    for level, filters in zip((4, 3, 2, 1), (512, 256, 128, 64)):
        x = _decoder_block(x, stages[level - 1].features, scaled(filters, width), f"decoder{level}", policy)
    return keras.layers.Conv2D(1, 1, name="score", dtype=policy)(x)
