"""SegNet with the VGG16 encoder: the decoder unpools with the encoder's max-pooling indices."""

from __future__ import annotations

from lim_tf.models.layers import FusedBatchNorm, MaxUnpool
from lim_tf.models.vgg import VGG16_BLOCKS, scaled, vgg16_encoder
from lim_tf.runtime.quiet import keras


def segnet_logits(x, width: float, policy: str, batch_norm: bool = False):
    """Mirror of the encoder: unpool, then the block's convolutions with batch normalisation."""
    stages = vgg16_encoder(x, width, policy, argmax=True, batch_norm=batch_norm)
    x = stages[-1].pooled
    for block in range(5, 0, -1):
        stage = stages[block - 1]
        x = MaxUnpool(name=f"decoder{block}_unpool", dtype=policy)([x, stage.indices, stage.features])
        filters, convs = VGG16_BLOCKS[block - 1]
        out_filters = VGG16_BLOCKS[block - 2][0] if block > 1 else filters
        for index in range(1, convs + 1):
            n = scaled(out_filters if index == convs else filters, width)
            x = keras.layers.Conv2D(n, 3, padding="same", use_bias=False, name=f"decoder{block}_conv{index}",
                                    dtype=policy)(x)
            x = FusedBatchNorm(name=f"decoder{block}_bn{index}", dtype=policy)(x)
            x = keras.layers.ReLU(name=f"decoder{block}_relu{index}", dtype=policy)(x)
    return keras.layers.Conv2D(1, 1, name="score", dtype=policy)(x)
