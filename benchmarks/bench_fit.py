"""How much of a training run trains: lim-tf's fit loop against the bare training step, side by side.

Run: .venv/bin/python benchmarks/bench_fit.py [--model unet] [--width 0.25] [--tile 128] [--batch-size 16]
                                              [--epochs 6] [--steps 60] [--records R] [--xla auto]
                                              [--validation-every 1]
The CPU recipe's fit on Bijie records: --records BIJIE_1.6M --steps 129 --validation-every 3 --epochs 9

Records are built from generated chips; `train` runs one fold with everything a real run has
(validation on whole chips each epoch, the epoch backup, the best model saved on improvement,
TensorBoard scalars and images). The bare step is the same compiled model and loss with
train_on_batch on batches of the same shape, with XLA where training uses it (`--xla`). The ratio is bare seconds / fit seconds for the same
number of steps, counted from the epoch after the first validation (by then the step and the
validation pass are traced, as in all but the first epochs of a real run), so that the timed epochs
should be a multiple of --validation-every. Target: >= 0.9. The last line is JSON.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(__file__))

import keras  # noqa: E402
import numpy as np  # noqa: E402
from common import cpu_model  # noqa: E402

from lim_tf.config import DataConfig, SplitConfig, resolve_train_config  # noqa: E402
from lim_tf.data.build import build_dataset  # noqa: E402
from lim_tf.data.manifest import load_manifest  # noqa: E402
from lim_tf.data.synth import SynthConfig, write_synthetic  # noqa: E402
from lim_tf.models import build_model  # noqa: E402
from lim_tf.models.precision import resolve_precision  # noqa: E402
from lim_tf.models.xla import compile_training_step, explain_xla  # noqa: E402
from lim_tf.training.optimizers import make_optimizer  # noqa: E402
from lim_tf.training.train import make_loss, model_config, train  # noqa: E402


class EpochClock(keras.callbacks.Callback):
    """Wall time from the start of each epoch to the start of the next (validation and saving included)."""

    def __init__(self) -> None:
        super().__init__()
        self.starts: list[float] = []

    def on_epoch_begin(self, epoch, logs=None):
        self.starts.append(time.perf_counter())

    def on_train_end(self, logs=None):
        self.starts.append(time.perf_counter())


def bare_seconds(manifest: dict, config, steps: int) -> float:
    """Seconds for `steps` compiled training steps on random tiles of the same shape."""
    policy = resolve_precision(config.precision)
    model = build_model(model_config(config, manifest, policy))
    model.compile(optimizer=make_optimizer(config.optimizer, config.learning_rate, policy),
                  loss=make_loss(config.loss, manifest))
    compile_training_step(model, explain_xla(config.xla, policy, steps=config.epochs * config.steps_per_epoch)[0])
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 255, (config.batch_size, config.tile, config.tile, 3)).astype(np.float32)
    y = (rng.random((config.batch_size, config.tile, config.tile, 1)) > 0.9).astype(np.float32)
    w = np.ones((config.batch_size, config.tile, config.tile), np.float32)
    for _ in range(3):
        model.train_on_batch(x, y, sample_weight=w)
    started = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y, sample_weight=w)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="unet")
    parser.add_argument("--width", type=float, default=0.25)
    parser.add_argument("--tile", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--encoder-bn", action="store_true", default=True)
    parser.add_argument("--records", type=Path, help="existing records (e.g. Bijie at 1.6 m); default: generated")
    parser.add_argument("--validation-every", type=int, default=1)
    parser.add_argument("--xla", choices=("auto", "on", "off"), default="auto", help="as train --xla")
    args = parser.parse_args()
    first = args.validation_every  # the first epoch after the first validation (0-based)
    if args.epochs - first < args.validation_every:
        parser.error(f"--epochs must be at least 2 x --validation-every ({2 * args.validation_every})")
    work = Path(tempfile.mkdtemp(prefix="bench-fit-"))
    records = args.records or work / "records"
    if args.records is None:
        write_synthetic(work / "synthetic", SynthConfig(landslide_chips=150, non_landslide_chips=200, min_size=80,
                                                        max_size=220, scene_size=64))
        build_dataset(work / "synthetic" / "bijie", records, DataConfig(split=SplitConfig(folds=5)), progress=False)
    manifest = load_manifest(records)
    config = resolve_train_config("unet", overrides={
        "model": args.model, "width": args.width, "tile": args.tile, "batch_size": args.batch_size,
        "epochs": args.epochs, "steps_per_epoch": args.steps, "encoder_bn": args.encoder_bn, "learning_rate": 1e-3,
        "validation_every": args.validation_every, "xla": args.xla})
    steps = (args.epochs - first) * args.steps
    # The bare step first: measured after training, it met the fit loop's input threads still
    # winding down and ran 7 % slower (64.9 s against 69.5 s for 387 steps, Xeon, alone).
    bare = bare_seconds(manifest, config, steps)
    clock = EpochClock()
    train(records, work / "run", config, progress=False, callbacks=[clock])
    fit = clock.starts[-1] - clock.starts[first]
    with (work / "run" / "fold0" / "history.csv").open() as handle:
        validated = sum(1 for row in csv.DictReader(handle) if row.get("val_loss") not in (None, "", "NA"))
    validation_chips = manifest.examples["fold0"].total - manifest.examples["fold0"].augmented
    xla, why = explain_xla(config.xla, resolve_precision(config.precision), steps=args.epochs * args.steps)
    print(json.dumps({"cpu": cpu_model(), "records": str(records), "validation_every": args.validation_every,
                      "xla": xla, "xla_why": why,
                      "model": args.model, "width": args.width, "tile": args.tile,
                      "batch_size": args.batch_size, "steps_per_epoch": args.steps, "epochs_timed": args.epochs - first,
                      "validation_chips": validation_chips, "validated_epochs": validated,
                      "validations_timed": sum((e + 1) % args.validation_every == 0 for e in range(first, args.epochs)),
                      "epoch_seconds": [round(b - a, 2) for a, b in zip(clock.starts[first:], clock.starts[first + 1:])],
                      "fit_seconds": fit, "bare_seconds": bare, "ratio": bare / fit}))


if __name__ == "__main__":
    main()
