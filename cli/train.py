"""`lim-tf train`: a thin wrapper around lim_tf.training.train."""

from __future__ import annotations

from pathlib import Path

import click

from lim_tf.config import (
    PRESETS,
    AlphaFor,
    Distribute,
    LossName,
    ModelName,
    Monitor,
    OptimizerName,
    Precision,
    Schedule,
    Xla,
)
from lim_tf.errors import ConfigError, FoldRangeError
from lim_tf_cli.options import choice_of, trust_model_option, warn_if_shadowed

# Command-line option -> TrainConfig key (dotted for the loss section).
OVERRIDES = {
    "model": "model", "width": "width", "epochs": "epochs", "batch_size": "batch_size",
    "learning_rate": "learning_rate", "optimizer": "optimizer", "monitor": "monitor",
    "encoder_weights": "encoder_weights", "precision": "precision", "xla": "xla", "distribute": "distribute",
    "cpu_replicas": "cpu_replicas", "steps_per_epoch": "steps_per_epoch", "seed": "seed",
    "threshold": "threshold", "loss": "loss.name", "alpha": "loss.alpha", "gamma": "loss.gamma",
    "alpha_for": "loss.alpha_for", "landslide_weight": "loss.landslide_weight",
    "tversky_weight": "loss.tversky_weight", "tile": "tile", "landslide_share": "landslide_share",
    "photometric": "photometric", "scale_jitter": "scale_jitter", "schedule": "schedule",
    "warmup_epochs": "warmup_epochs", "patience": "patience", "validation_every": "validation_every",
    "augment": "augment", "encoder_bn": "encoder_bn", "init_from": "init_from",
    "freeze_encoder_epochs": "freeze_encoder_epochs", "keep_normalization": "keep_normalization",
    "time_budget": "time_budget", "trust_model": "trust_model",
}


def _folds(text: str | None) -> tuple[int, ...] | None:
    if text is None:
        return None
    if text.strip().lower() == "all":
        return ()
    try:
        return tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError as error:
        raise ConfigError(f"--folds {text!r}: give 'all' or fold numbers such as 0 or 0,2") from error


@click.command()
@click.argument("records", type=click.Path(path_type=Path))
@click.argument("run", type=click.Path(path_type=Path))
@click.option("--preset", type=click.Choice(sorted(PRESETS)), default="fcn-fl",
              help="cpu: the recipe that trains within an hour on a 2-core CPU (records at 1.6 m); the paper's "
                   "configurations: fcn (cross-entropy), fcn-fl (focal loss), fcn-flk (focal loss, all folds "
                   "ensembled), unet, segnet.")
@click.option("--config", "config_file", type=click.Path(exists=True, path_type=Path),
              help="YAML TrainConfig applied over the preset; options given here override it.")
@click.option("--folds", "folds_text", help="Folds to train: one number (validating on it), a list, or 'all' "
              "for the K-fold ensemble. Default: the preset's (fold 0; all for fcn-flk).")
@click.option("--model", type=choice_of(ModelName), help="Architecture.")
@click.option("--width", type=click.FloatRange(min=0, min_open=True),
              help="Width multiplier: 1.0 is the paper's VGG16; 0.25 trains ~16x faster on a CPU.")
@click.option("--epochs", type=click.IntRange(0), help="Epochs per fold. 0 with --init-from: no training; the "
              "source model takes RECORDS' band statistics (their light) and its threshold and polygon confidence "
              "are chosen on RECORDS' labelled chips, in seconds (a few labelled tiles of a new region suffice).")
@click.option("--batch-size", type=click.IntRange(1), help="Global batch size, split over replicas.")
@click.option("--learning-rate", type=click.FloatRange(min=0, min_open=True), help="Initial learning rate.")
@click.option("--optimizer", type=choice_of(OptimizerName), help="Optimizer.")
@click.option("--loss", type=choice_of(LossName), help="Training loss.")
@click.option("--alpha", type=click.FloatRange(0, 1), help="Focal loss class weight (see --alpha-for).")
@click.option("--gamma", type=click.FloatRange(0), help="Focal loss focusing parameter (paper: 1.75).")
@click.option("--alpha-for", type=choice_of(AlphaFor),
              help="Class that gets weight alpha: background is the paper's reading, landslide is Lin et al.'s.")
@click.option("--landslide-weight", type=click.FloatRange(min=0, min_open=True),
              help="weighted_bce: landslide class weight (default: the training IR).")
@click.option("--tversky-weight", type=click.FloatRange(0), help="Add this much Dice/Tversky loss.")
@click.option("--monitor", type=choice_of(Monitor),
              help="What picks the best epoch: val_best_f1 is the validation F1 at its best threshold.")
@click.option("--encoder-weights", help="'imagenet' (from the Keras cache) or a VGG16 weights file; "
              "needs --width 1.")
@click.option("--encoder-bn/--no-encoder-bn", default=None,
              help="Batch normalisation after every encoder convolution (VGG16-BN): trains far more readily from "
                   "scratch; not with --encoder-weights.")
@click.option("--precision", type=choice_of(Precision),
              help="auto: mixed_float16 on GPUs, mixed_bfloat16 on CPUs with bf16 units, else float32.")
@click.option("--xla", type=choice_of(Xla),
              help="Compile the training step with XLA. auto: on GPUs and in float32 on CPUs (1.25 x faster on "
                   "an AVX2 Zen 3), off in bfloat16 on CPUs (0.51 x), when mirrored over several devices and for "
                   "runs of under 500 steps (the compilation would not pay).")
@click.option("--distribute", type=choice_of(Distribute),
              help="auto mirrors over GPUs when more than one is visible.")
@click.option("--cpu-replicas", type=click.IntRange(0), help="Mirror over this many logical CPUs (testing).")
@click.option("--steps-per-epoch", type=click.IntRange(1),
              help="Batches per epoch (default: as many as the training folds hold chips).")
@click.option("--tile", type=click.IntRange(32), help="Training tile edge in pixels: chips are cropped to it, or "
              "padded with ignored pixels. Larger tiles give more context per step and cost more.")
@click.option("--landslide-share", type=click.FloatRange(0, 1),
              help="Share of landslide chips drawn per batch (the rest are non-landslide chips, the hard negatives).")
@click.option("--photometric/--no-photometric", default=None,
              help="Online gamma, contrast, brightness, blur and noise on training tiles (image only).")
@click.option("--augment/--no-augment", default=None, help="Online flips and 90-degree rotations.")
@click.option("--scale-jitter", type=click.FloatRange(1), help="Rescale training chips by a factor in [1/s, s] "
              "(1: off), so a model tolerates other resolutions.")
@click.option("--schedule", type=choice_of(Schedule), help="Learning-rate schedule.")
@click.option("--warmup-epochs", type=click.IntRange(0), help="Linear warm-up before the cosine decay.")
@click.option("--patience", type=click.IntRange(1), help="Stop a fold after this many validations without improvement.")
@click.option("--validation-every", type=click.IntRange(1), help="Validate every k epochs (cheaper; the best "
              "model is picked among validated epochs).")
@click.option("--threshold", type=click.FloatRange(0, 1), help="Probability threshold for the logged scores.")
@click.option("--seed", type=int, help="Seed; the same seed repeats a run on the same machine.")
@click.option("--init-from", help="Start every weight (encoder and decoder) from a run folder, a .keras file or a "
              "shipped model's name (lim-tf models), to adapt it to RECORDS; the architecture is then the source's and "
              "the learning rate defaults to a tenth of the preset's. The input normalisation takes RECORDS' band "
              "statistics, so another region's light and contrast reach the network in the range it learnt.")
@click.option("--freeze-encoder-epochs", type=click.IntRange(0),
              help="With --init-from: train only the decoder for this many epochs first (few labels: keeps the "
                   "encoder's features while the decoder fits the new region).")
@click.option("--keep-normalization", is_flag=True, default=None,
              help="With --init-from: keep the source's band statistics instead of RECORDS'.")
@trust_model_option
@click.option("--time-budget", help="Train each fold within this time (90s, 45m, 1.5h): the first epoch is timed "
              "with a validation pass, then the number of epochs (at most --epochs) and the cosine schedule are fixed "
              "so that training ends in time on this machine. The cpu preset's budget is 60m; --epochs alone turns "
              "the budget off.")
@click.option("--resume", is_flag=True, help="Continue an interrupted run in RUN with its saved config.")
@click.option("--fold-processes/--no-fold-processes", default=None,
              help="Train each fold in a fresh process, so memory does not grow from fold to fold. "
                   "Default: on when more than one fold is left to train.")
@click.pass_context
def train(ctx: click.Context, records: Path, run: Path, preset: str, config_file: Path | None,
          folds_text: str | None, resume: bool, fold_processes: bool | None, **options) -> None:
    """Train on the TFRecords in RECORDS; write models, history and TensorBoard logs to RUN."""
    ctx.meta["output"] = run
    warn_if_shadowed(options["init_from"])
    from lim_tf.config import resolve_train_config
    from lim_tf.training.budget import parse_duration
    from lim_tf.training.train import train as train_run

    if options["time_budget"] is not None:
        options["time_budget"] = parse_duration(options["time_budget"])
    overrides = {OVERRIDES[k]: v for k, v in options.items() if v is not None}
    folds = _folds(folds_text)
    if folds is not None:
        overrides["folds"] = list(folds)
    config = resolve_train_config(preset, config_file, overrides)
    try:
        state = train_run(records, run, config, resume=resume, progress=ctx.obj["progress"], isolate=fold_processes)
    except FoldRangeError as error:
        if folds is None and config_file is not None:  # the folds came from the config file: name it
            raise FoldRangeError(f"{config_file}: 'folds': {error}") from error
        raise
    click.echo(f"run: {run}\nmodels: {', '.join(state.models)} (combined by {state.combine} probability)")
    click.echo(f"TensorBoard: tensorboard --logdir {run / 'logs'}")
