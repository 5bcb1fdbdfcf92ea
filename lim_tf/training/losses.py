"""Losses for rare landslide pixels: focal loss, (class-weighted) cross-entropy, a Tversky term.

Each is a plain function of tensors returning per-pixel values (the mean over the last axis),
wrapped by a thin serializable keras Loss; sample weights (0 on ignored pixels) apply as usual.
"""

from __future__ import annotations

from typing import Literal

from lim_tf import PACKAGE
from lim_tf.runtime.quiet import keras, tf

AlphaFor = Literal["landslide", "background"]
EPSILON = 1e-7


def _log_probabilities(y_pred: tf.Tensor, from_logits: bool) -> tuple[tf.Tensor, tf.Tensor]:
    """log q and log (1 - q), stable at both ends."""
    if from_logits:
        return -tf.nn.softplus(-y_pred), -tf.nn.softplus(y_pred)
    q = tf.clip_by_value(y_pred, EPSILON, 1.0 - EPSILON)
    return tf.math.log(q), tf.math.log1p(-q)


def focal_loss(y_true: tf.Tensor, y_pred: tf.Tensor, alpha: float | None = 0.25, gamma: float = 1.75,
               alpha_for: AlphaFor = "background", from_logits: bool = False) -> tf.Tensor:
    """Binary focal loss (Lin et al. 2017, "Focal Loss for Dense Object Detection"):

        FL = -alpha_t (1 - q_t)^gamma log(q_t)

    q_t is the predicted probability of the true class. The class-weight convention is explicit:
    `alpha_for` names the class that gets weight alpha; the other class gets 1 - alpha.
      alpha_for="landslide":  Lin et al.'s convention (alpha weights the positive class).
      alpha_for="background": the FCN-FL paper's reading ("a low alpha reduces the weight of
                              non-landslide samples"): background 0.25, landslide 0.75.
    alpha=None applies no class weight; gamma=0 and alpha=None give binary cross-entropy.
    """
    y_true = tf.cast(y_true, tf.float32)
    y_pred = tf.cast(y_pred, tf.float32)
    log_q, log_not_q = _log_probabilities(y_pred, from_logits)
    log_q_t = y_true * log_q + (1.0 - y_true) * log_not_q
    loss = -tf.pow(1.0 - tf.exp(log_q_t), gamma) * log_q_t
    if alpha is not None:
        weight_positive = alpha if alpha_for == "landslide" else 1.0 - alpha
        loss = loss * (y_true * weight_positive + (1.0 - y_true) * (1.0 - weight_positive))
    return tf.reduce_mean(loss, axis=-1)


def weighted_cross_entropy(y_true: tf.Tensor, y_pred: tf.Tensor, landslide_weight: float = 1.0,
                           background_weight: float = 1.0, from_logits: bool = False) -> tf.Tensor:
    """Binary cross-entropy with a weight per class (1, 1 is plain cross-entropy)."""
    y_true = tf.cast(y_true, tf.float32)
    log_q, log_not_q = _log_probabilities(tf.cast(y_pred, tf.float32), from_logits)
    loss = -(landslide_weight * y_true * log_q + background_weight * (1.0 - y_true) * log_not_q)
    return tf.reduce_mean(loss, axis=-1)


def tversky_loss(y_true: tf.Tensor, y_pred: tf.Tensor, weight: tf.Tensor | None = None, alpha: float = 0.5,
                 beta: float = 0.5, smooth: float = 1.0) -> tf.Tensor:
    """1 - Tversky index per image (alpha = beta = 0.5 is the Dice loss); ignored pixels excluded."""
    y_true = tf.cast(y_true, tf.float32)[..., 0]
    y_pred = tf.cast(y_pred, tf.float32)[..., 0]
    weight = tf.ones_like(y_true) if weight is None else tf.cast(weight, tf.float32)
    axes = list(range(1, y_true.shape.rank))
    tp = tf.reduce_sum(weight * y_true * y_pred, axes)
    fp = tf.reduce_sum(weight * (1 - y_true) * y_pred, axes)
    fn = tf.reduce_sum(weight * y_true * (1 - y_pred), axes)
    return 1.0 - (tp + smooth) / (tp + alpha * fp + beta * fn + smooth)


class _WithTversky(keras.losses.Loss):
    """Adds `tversky_weight` x the mean Tversky loss, computed with the same sample weights."""

    def __init__(self, tversky_weight: float = 0.0, name: str | None = None, **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        self.tversky_weight = tversky_weight

    def __call__(self, y_true, y_pred, sample_weight=None):
        loss = super().__call__(y_true, y_pred, sample_weight)
        if self.tversky_weight:
            loss = loss + self.tversky_weight * tf.reduce_mean(tversky_loss(y_true, y_pred, sample_weight))
        return loss

    def get_config(self):
        return {**super().get_config(), "tversky_weight": self.tversky_weight}


@keras.saving.register_keras_serializable(package=PACKAGE)
class FocalLoss(_WithTversky):
    """Serializable focal loss; see `focal_loss` for the formula and the alpha convention."""

    def __init__(self, alpha: float | None = 0.25, gamma: float = 1.75, alpha_for: AlphaFor = "background",
                 from_logits: bool = False, tversky_weight: float = 0.0, name: str = "focal_loss", **kwargs):
        super().__init__(tversky_weight, name=name, **kwargs)
        self.alpha, self.gamma, self.alpha_for, self.from_logits = alpha, gamma, alpha_for, from_logits

    def call(self, y_true, y_pred):
        return focal_loss(y_true, y_pred, self.alpha, self.gamma, self.alpha_for, self.from_logits)

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha, "gamma": self.gamma, "alpha_for": self.alpha_for,
                "from_logits": self.from_logits}


@keras.saving.register_keras_serializable(package=PACKAGE)
class WeightedCrossEntropy(_WithTversky):
    """Serializable class-weighted binary cross-entropy."""

    def __init__(self, landslide_weight: float = 1.0, background_weight: float = 1.0, from_logits: bool = False,
                 tversky_weight: float = 0.0, name: str = "weighted_cross_entropy", **kwargs):
        super().__init__(tversky_weight, name=name, **kwargs)
        self.landslide_weight, self.background_weight = landslide_weight, background_weight
        self.from_logits = from_logits

    def call(self, y_true, y_pred):
        return weighted_cross_entropy(y_true, y_pred, self.landslide_weight, self.background_weight,
                                      self.from_logits)

    def get_config(self):
        return {**super().get_config(), "landslide_weight": self.landslide_weight,
                "background_weight": self.background_weight, "from_logits": self.from_logits}
