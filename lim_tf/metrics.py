"""Scores from the pixel confusion matrix; counts sum across batches, images, folds and scenes.

Degenerate cases are defined, never NaN: a ratio whose denominator is zero is 1.0 when its
numerator's errors are also zero (nothing to find and nothing found) and 0.0 otherwise; e.g.
recall with no landslide pixels in truth is 1.0, precision with no landslide predicted is 1.0
when truth is empty too and 0.0 when landslides were missed.
"""

from __future__ import annotations

from dataclasses import dataclass

import keras
import tensorflow as tf

from lim_tf.models.layers import PACKAGE


@dataclass(frozen=True)
class Confusion:
    """Pixel counts of the landslide class."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def __add__(self, other: "Confusion") -> "Confusion":
        return Confusion(self.tp + other.tp, self.fp + other.fp, self.fn + other.fn, self.tn + other.tn)

    def scores(self) -> dict[str, float]:
        """Accuracy, precision, recall, F1, IoU per class and mIoU (mean of background and landslide)."""
        tp, fp, fn, tn = self.tp, self.fp, self.fn, self.tn
        iou_landslide = _ratio(tp, tp + fp + fn)
        iou_background = _ratio(tn, tn + fp + fn)
        return {"accuracy": _ratio(tp + tn, tp + tn + fp + fn), "precision": _ratio(tp, tp + fp),
                "recall": _ratio(tp, tp + fn), "f1": _ratio(2 * tp, 2 * tp + fp + fn),
                "iou_landslide": iou_landslide, "iou_background": iou_background,
                "miou": (iou_landslide + iou_background) / 2}


def _ratio(numerator: float, denominator: float) -> float:
    """numerator / denominator, or 1.0 when both are 0 (no errors possible), 0.0 when only the denominator is."""
    if denominator == 0:
        return 1.0
    return float(numerator) / float(denominator)


@keras.saving.register_keras_serializable(package=PACKAGE)
class LandslideScore(keras.metrics.Metric):
    """A streaming confusion-matrix score of the landslide class at a threshold (for training logs)."""

    def __init__(self, score: str = "f1", threshold: float = 0.5, name: str | None = None, **kwargs) -> None:
        super().__init__(name=name or score, **kwargs)
        self.score, self.threshold = score, threshold
        self.counts = self.add_variable(shape=(4,), initializer="zeros", name="counts")

    def update_state(self, y_true, y_pred, sample_weight=None):
        truth = tf.cast(y_true[..., 0] > 0.5, tf.float32)
        predicted = tf.cast(y_pred[..., 0] >= self.threshold, tf.float32)
        weight = tf.ones_like(truth) if sample_weight is None else tf.cast(sample_weight, tf.float32)
        tp = tf.reduce_sum(weight * truth * predicted)
        fp = tf.reduce_sum(weight * (1 - truth) * predicted)
        fn = tf.reduce_sum(weight * truth * (1 - predicted))
        tn = tf.reduce_sum(weight * (1 - truth) * (1 - predicted))
        self.counts.assign_add(tf.stack([tp, fp, fn, tn]))

    def result(self):
        tp, fp, fn, tn = tf.unstack(self.counts)

        def ratio(num, den):
            return tf.where(den > 0, num / tf.maximum(den, 1.0), 1.0)

        if self.score == "precision":
            return ratio(tp, tp + fp)
        if self.score == "recall":
            return ratio(tp, tp + fn)
        if self.score == "iou":
            return ratio(tp, tp + fp + fn)
        return ratio(2 * tp, 2 * tp + fp + fn)

    def reset_state(self):
        self.counts.assign(tf.zeros((4,)))

    def get_config(self):
        return {**super().get_config(), "score": self.score, "threshold": self.threshold}
