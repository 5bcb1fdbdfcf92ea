"""FCN-8s on VGG16 and FCN-FL, the paper's variant that also fuses the 1/4 and 1/2 feature maps."""

from __future__ import annotations

from lim_tf.models.layers import BilinearUpsample, PatchConv2D
from lim_tf.models.vgg import conv, scaled, vgg16_encoder
from lim_tf.runtime.quiet import keras


def _score(x, name: str, policy: str):
    # Skip scores start at zero, as in FCN: training begins from the coarser prediction.
    return keras.layers.Conv2D(1, 1, kernel_initializer="zeros", name=name, dtype=policy)(x)


def _fuse_skips(x, stages, levels: tuple[int, ...], policy: str):
    """Upsample the score by 2 (learned) and add each skip level's score, coarse to fine."""
    for level in levels:
        x = keras.layers.Conv2DTranspose(1, 4, strides=2, padding="same", use_bias=False,
                                         name=f"upscore_to_pool{level}", dtype=policy)(x)
        x = keras.layers.Add(name=f"fuse_pool{level}", dtype=policy)([x, _score(stages[level - 1].pooled,
                                                                              f"score_pool{level}", policy)])
    return x


def _head(x, width: float, policy: str, levels: tuple[int, ...], batch_norm: bool = False):
    stages = vgg16_encoder(x, width, policy, batch_norm=batch_norm)
    x = PatchConv2D(scaled(4096, width), 7, activation="relu", name="fc6", dtype=policy)(stages[4].pooled)
    x = keras.layers.Dropout(0.5, name="drop6", dtype=policy)(x)
    x = conv(x, scaled(4096, width), "fc7", policy, kernel=1)
    x = keras.layers.Dropout(0.5, name="drop7", dtype=policy)(x)
    x = keras.layers.Conv2D(1, 1, name="score_fr", dtype=policy)(x)
    x = _fuse_skips(x, stages, levels, policy)
    factor = 2 ** min(levels)  # the finest fused level's stride; a fixed bilinear step to full size
    return BilinearUpsample(factor, name="upscore_final", dtype=policy)(x)


def fcn_logits(x, width: float, policy: str, batch_norm: bool = False):
    """FCN-8s: scores at 1/32, 1/16 and 1/8 fused by addition, then 8x bilinear upsampling."""
    return _head(x, width, policy, (4, 3), batch_norm)


def fcn_fl_logits(x, width: float, policy: str, batch_norm: bool = False):
    """FCN-FL: FCN-8s plus the 1/4 and 1/2 maps, so every encoder resolution adds to the score."""
    return _head(x, width, policy, (4, 3, 2, 1), batch_norm)
