"""Training callbacks: atomic best-model saving, a NaN guard and validation images for TensorBoard."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np

from lim_tf.atomic import atomic_file
from lim_tf.figures import OVERLAY_KEY, display_rgb, overlay, with_key
from lim_tf.runtime.quiet import keras, tf


class BestModel(keras.callbacks.Callback):
    """Saves the model when `monitor` improves, via a temporary file so no half-written model is left,
    and stops training after `patience` validations without improvement (None: never).

    Epochs without validation (see `validation_every`) are skipped. A tie goes to the later epoch
    (trained longer, no worse on validation; in practice a score of 0 while validation shows no
    skill yet) but does not reset the patience. On resume, the best value and the validations
    since it are read back from the history CSV.
    """

    def __init__(self, path: Path, monitor: str, history: Path, patience: int | None = None) -> None:
        super().__init__()
        self.path, self.monitor, self.patience = Path(path), monitor, patience
        self.sign = 1.0 if monitor.endswith("loss") else -1.0  # losses fall, scores rise
        self.best, self.waited = math.inf, 0
        self.best_epoch: int | None = None
        for epoch, value in _history_values(history, monitor):
            self._take(self.sign * value, epoch)

    def _take(self, score: float, epoch: int) -> bool:
        """Count one validation (lower `score` is better); True where that epoch's model is kept."""
        if score < self.best:
            self.waited = 0
        else:
            self.waited += 1
            if score > self.best:
                return False
        self.best, self.best_epoch = score, epoch
        return True

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        value = (logs or {}).get(self.monitor)
        if value is None or not math.isfinite(value) or not math.isfinite((logs or {}).get("loss", 0.0)):
            return  # an epoch whose training diverged is never kept, however its validation scored
        kept = self._take(self.sign * value, epoch)
        if self.patience is not None and self.waited >= self.patience:
            self.model.stop_training = True
        if not kept:
            return
        with atomic_file(self.path, suffix=".keras") as temporary:  # Keras wants the suffix
            self.model.save(temporary)


def _history_values(history: Path, key: str) -> list[tuple[int, float]]:
    """(epoch, value) of `key` in the epochs that logged it."""
    if not history.exists():
        return []
    with history.open() as handle:
        return [(int(row["epoch"]), float(row[key])) for row in csv.DictReader(handle)
                if row.get(key) not in NOT_LOGGED]


# How a history row says a value was not logged: Keras's CSVLogger writes "NA" for the validation
# keys of epochs that did not validate (--validation-every above 1, as the cpu preset trains).
NOT_LOGGED = (None, "", "NA", "nan")


class EpochBackup(keras.callbacks.Callback):
    """The whole training state after each epoch, in one file renamed into place, so a run killed at
    any moment resumes from its last finished epoch and goes on exactly as if never stopped.

    The state is every model variable (weights, batch-norm statistics and the dropout layers' seed
    state, which Keras's own weights files leave out) and every optimizer variable."""

    def __init__(self, folder: Path) -> None:
        super().__init__()
        self.folder = Path(folder)

    def _variables(self, model: keras.Model) -> list:
        if not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        return list(model.variables) + list(model.optimizer.variables)

    def restore(self, model: keras.Model) -> int:
        """Load the newest backup into `model`; returns the first epoch still to run (0: none)."""
        for path in sorted(self.folder.glob("epoch-*.npz"), reverse=True):
            try:
                with np.load(path) as saved:
                    values = [saved[f"v{i}"] for i in range(len(saved.files))]
            except (OSError, ValueError, KeyError):
                continue  # not a finished backup: try the one before
            variables = self._variables(model)
            if len(values) != len(variables) or any(v.shape != tuple(x.shape) for v, x in zip(values, variables)):
                continue
            for variable, value in zip(variables, values):
                variable.assign(value)
            return int(path.stem.split("-")[1]) + 1
        return 0

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        target = self.folder / f"epoch-{epoch:05d}.npz"
        with atomic_file(target, suffix=".npz") as temporary:
            np.savez(temporary, **{f"v{i}": np.asarray(v)  # type: ignore[arg-type]
                                   for i, v in enumerate(self._variables(self.model))})
        for older in self.folder.glob("epoch-*.npz"):
            if older.name < target.name:
                older.unlink()


def keep_history_before(history: Path, epoch: int) -> None:
    """Cut history.csv back to the epochs before `epoch` (rows of epochs that will run again, and a
    row a kill left half-written, go); removed when none remain."""
    if not history.exists():
        return
    with history.open(newline="") as handle:
        reader = csv.DictReader(handle)
        fields = list(reader.fieldnames or [])
        rows = [row for row in reader if _whole(row, fields) and int(row["epoch"]) < epoch]
    if not rows:
        history.unlink()
        return
    with atomic_file(history) as temporary, temporary.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)


def _whole(row: dict, fields: list[str]) -> bool:
    try:
        int(row["epoch"])
        return all(row.get(f) not in (None, "") for f in fields)
    except (KeyError, TypeError, ValueError):
        return False


class EpochTensorBoard(keras.callbacks.TensorBoard):
    """Keras's TensorBoard logger writing once an epoch: its per-batch hooks (which build a scalar
    summary of every log value each step even when only epochs are written) are skipped."""

    def on_train_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        pass

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        pass


class NanGuard(keras.callbacks.Callback):
    """Stops training at the first non-finite loss and remembers where it happened."""

    def __init__(self) -> None:
        super().__init__()
        self.epoch = 0
        self.failed_at: tuple[int, int] | None = None

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        self.epoch = epoch

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(float(loss)):
            self.failed_at = (self.epoch, batch)
            self.model.stop_training = True


PANEL_KEY = ("Each row: the image | its truth (green) | the prediction at the run's threshold: green = landslide "
             "found (TP), red = false alarm (FP), blue = missed (FN).")


class ValidationImages(keras.callbacks.Callback):
    """Writes a few validation chips with truth and prediction overlays to TensorBoard on the
    epochs that validate."""

    def __init__(self, log_dir: Path, images: list[np.ndarray], targets: list[np.ndarray], threshold: float,
                 every: int = 1) -> None:
        super().__init__()
        self.writer = tf.summary.create_file_writer(str(log_dir))
        self.images, self.targets, self.threshold, self.every = images, targets, threshold, every

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if (epoch + 1) % self.every:
            return
        predicted = [np.asarray(self.model(image[None], training=False))[0] >= self.threshold for image in self.images]
        with self.writer.as_default():
            tf.summary.image("validation/image_truth_prediction", overlay_panels(self.images, self.targets, predicted),
                             step=epoch, max_outputs=len(self.images), description=PANEL_KEY)
        self.writer.flush()

    def on_train_end(self, logs: dict | None = None) -> None:
        self.writer.close()


def overlay_panels(images: list[np.ndarray], truth: list[np.ndarray], predicted: list[np.ndarray]) -> np.ndarray:
    """[image | truth in green | prediction: TP green, FP red, FN blue] as floats in 0..1; chips of
    different sizes are padded with black to the largest."""
    panels = []
    for image, true, pred in zip(images, truth, predicted):
        true = true[..., 0] > 0.5
        panel = np.concatenate([display_rgb(image), overlay(image, true, true), overlay(image, true, pred[..., 0])],
                               axis=1)
        panels.append(with_key(panel, OVERLAY_KEY, "image | truth | prediction"))
    height, width = max(p.shape[0] for p in panels), max(p.shape[1] for p in panels)
    padded = np.zeros((len(panels), height, width, 3), np.uint8)
    for index, panel in enumerate(panels):
        padded[index, : panel.shape[0], : panel.shape[1]] = panel
    return padded.astype(np.float32) / 255


def log_hparams(log_dir: Path, trial: str, settings: dict, history: Path, best_epoch: int | None) -> None:
    """Write the run's settings and its best-epoch validation scores for TensorBoard's HParams view."""
    from tensorboard.plugins.hparams import api as hp

    values = {k: (v if isinstance(v, (bool, int, float, str)) else str(v)) for k, v in settings.items()}
    rows = []
    if history.exists():
        with history.open() as handle:
            rows = list(csv.DictReader(handle))
    best = next((r for r in rows if best_epoch is not None and int(r["epoch"]) == best_epoch), rows[-1] if rows else {})
    with tf.summary.create_file_writer(str(log_dir)).as_default():
        hp.hparams(values, trial_id=trial)
        for key in ("val_loss", "val_f1", "val_best_f1", "val_iou", "val_precision", "val_recall"):
            if best.get(key) not in (None, ""):
                tf.summary.scalar(f"hparams/{key}", float(best[key]), step=0)
