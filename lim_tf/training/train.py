"""`lim-tf train`: one fold or all K folds, with a distribution strategy, precision policy and resume."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lim_tf.atomic import atomic_file, check_apart, clean_leftovers
from lim_tf.config import LossConfig, TrainConfig, dump_yaml, load_yaml
from lim_tf.data.manifest import MANIFEST, Manifest, load_manifest, verify_records
from lim_tf.data.pipeline import PipelineConfig, count_examples, make_dataset
from lim_tf.errors import ConfigError, FoldRangeError, InputError, OutputError, TrainingError, WorkerError
from lim_tf.metrics import BestF1, LandslideScore, ThresholdSweep
from lim_tf.models import MODELS, ModelConfig, build_model
from lim_tf.models.speed import StepChoice, choose_step, label, time_steps
from lim_tf.models.xla import compile_training_step
from lim_tf.runtime.measured import Measurements
from lim_tf.runtime.memory import check_fits, inference_estimate, training_bytes
from lim_tf.runtime.process import peak_memory_mb, run_in_fresh_process
from lim_tf.runtime.quiet import keras, tf
from lim_tf.trained.confidence import fit_run_confidence
from lim_tf.trained.fold import DONE, FoldSummary
from lim_tf.trained.run import RunFolder, RunState
from lim_tf.training.adapt import FreezeEncoder, check_source, initial_model, load_source
from lim_tf.training.budget import TimeBudget, read_plan
from lim_tf.training.callbacks import (
    BestModel,
    EpochBackup,
    EpochTensorBoard,
    NanGuard,
    ValidationImages,
    keep_history_before,
    log_hparams,
)
from lim_tf.training.losses import FocalLoss, WeightedCrossEntropy
from lim_tf.training.optimizers import WarmupCosine, make_optimizer

log = logging.getLogger(__name__)


def make_strategy(config: TrainConfig) -> tf.distribute.Strategy:
    """MirroredStrategy over GPUs when more than one is visible (or over logical CPUs when asked)."""
    if config.cpu_replicas > 1:
        cpu = tf.config.list_physical_devices("CPU")[0]
        try:
            tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * config.cpu_replicas)
        except RuntimeError as error:
            if len(tf.config.list_logical_devices("CPU")) < config.cpu_replicas:
                raise ConfigError("--cpu-replicas must be set before TensorFlow starts; run it in a fresh process") from error
        return tf.distribute.MirroredStrategy([f"/cpu:{i}" for i in range(config.cpu_replicas)])
    gpus = tf.config.list_physical_devices("GPU")
    if config.distribute == "mirrored" or (config.distribute == "auto" and len(gpus) > 1):
        return tf.distribute.MirroredStrategy()
    return tf.distribute.get_strategy()


def make_loss(config: LossConfig, manifest: Manifest) -> keras.losses.Loss:
    """The configured loss; weighted cross-entropy defaults its landslide weight to the training IR."""
    if config.name == "focal":
        return FocalLoss(config.alpha, config.gamma, config.alpha_for, tversky_weight=config.tversky_weight)
    weight = 1.0
    if config.name == "weighted_bce":
        weight = config.landslide_weight or manifest.imbalance_ratio["after_augmentation"] or 1.0
    return WeightedCrossEntropy(landslide_weight=weight, tversky_weight=config.tversky_weight)


def pipeline_config(config: TrainConfig, fold: int, replicas: int = 1) -> PipelineConfig:
    """How a fold's batches are made: tiles, chip-kind share and online augmentation."""
    return PipelineConfig(batch_size=config.batch_size, tile=config.tile, landslide_share=config.landslide_share,
                          augment=config.augment, photometric=config.photometric, scale_jitter=config.scale_jitter,
                          seed=config.seed + fold, deterministic=True, replicas=replicas)


def learning_rate(config: TrainConfig, steps_per_epoch: int,
                  epochs: int | None = None) -> float | keras.optimizers.schedules.LearningRateSchedule:
    """The configured rate, or a linear warm-up to it followed by cosine decay to 1 % of it over
    `epochs` (default: the configured ones; a time budget sets them after the first epoch)."""
    if config.schedule == "constant":
        return config.learning_rate
    total = (epochs or config.epochs) * steps_per_epoch
    warmup = min(config.warmup_epochs * steps_per_epoch, total // 2)
    return WarmupCosine(0.0 if warmup else config.learning_rate, max(total - warmup, 1), alpha=0.01,
                        warmup_target=config.learning_rate if warmup else None, warmup_steps=warmup)


def model_config(config: TrainConfig, manifest: Manifest, policy: str) -> ModelConfig:
    """The model matching the records' bands, normalised by their per-band statistics."""
    return ModelConfig(name=config.model, bands=len(manifest.band_names), width=config.width,
                       mean=manifest.means, std=manifest.stds,
                       policy=policy, encoder_weights=config.encoder_weights, batch_norm=config.encoder_bn)


def train(records: Path, run: Path, config: TrainConfig, resume: bool = False, progress: bool = True,
          callbacks: Sequence[keras.callbacks.Callback] = (), isolate: bool | None = None) -> RunState:
    """Train the configured folds into `run`; finished folds are skipped. Returns the run's state.

    With `isolate` each fold trains in a fresh process, so memory does not grow from fold to fold;
    the default isolates when more than one fold is left and no `callbacks` (which live in this
    process) are given.
    """
    records, run = Path(records), Path(run)
    check_apart(run, [("RECORDS", records), ("--init-from", config.init_from)], "RUN")
    manifest = verify_records(records)  # a damaged or missing shard stops here, before RUN is touched
    _check_folds(config, manifest, records)
    if config.init_from and not RunFolder(run).state.exists():
        source = load_source(config.init_from, trust=config.trust_model)
        check_source(source, manifest, str(records))  # before RUN is touched
        config = dataclasses.replace(config, model=_architecture(source.model, config.model))  # type: ignore[arg-type]
    state = _open_run(run, records, manifest, config, resume)
    config = load_yaml(TrainConfig, RunFolder(run).config)
    _check_folds(config, manifest, records)
    if config.epochs == 0:
        return _calibrate_only(records, run, manifest, config, state)
    folds = list(config.folds) or list(range(manifest.folds))
    done = [k for k in folds if k in state.done_folds()]
    if done:
        log.info("folds %s are finished; skipping them", done)
    pending = [k for k in folds if k not in done]
    if isolate is None:
        isolate = len(pending) > 1 and not callbacks
    if isolate and callbacks:
        raise ConfigError("callbacks run in this process; train without isolation to use them")
    strategy = None if isolate else make_strategy(config)
    step = choose_training_step(config, manifest, pending)
    log.info("training %s folds %s in %s%s (%s)", config.model, pending, label(step.policy, step.xla),
             ", one process per fold" if isolate else "", step.reason)
    for fold in pending:
        if isolate:
            try:
                result = run_in_fresh_process(_train_fold_alone, records, run, config, fold, step, progress)
            except WorkerError as error:
                raise TrainingError(f"fold {fold}: {error}") from error
        else:
            result = train_fold(records, run, manifest, config, fold, strategy, step, progress, callbacks)
        state.record_fold(fold, dataclasses.replace(result, own_process=isolate))
        state.save(run)
    if pending or (state.models and state.confidence is None):
        _fit_confidence(run, state)
    return state


def _calibrate_only(records: Path, run: Path, manifest: Manifest, config: TrainConfig, state: RunState) -> RunState:
    """`--epochs 0 --init-from MODEL`: no training. The source with the records' band statistics (the
    new region's light), its threshold chosen on every labelled chip outside the test split (none was
    fitted, so all of them can choose) and its confidence learnt on them. Seconds, not an hour."""
    from lim_tf.data.items import record_items
    from lim_tf.data.sample import IGNORE, LANDSLIDE
    from lim_tf.trained.confidence import fit_confidence, validation_polygons
    from lim_tf.trained.ensemble import Ensemble

    assert config.init_from is not None  # the config refuses --epochs 0 without it
    model = initial_model(load_source(config.init_from, config.trust_model), manifest, "float32",
                          config.keep_normalization)
    layout = RunFolder(run)
    layout.fold(0).mkdir(exist_ok=True)
    with atomic_file(layout.model(0), suffix=".keras") as temporary:
        model.save(temporary)
    ensemble, folds, sweep = Ensemble([model], [layout.model_name(0)]), list(range(manifest.folds)), ThresholdSweep()
    for fold in folds:
        for _, image, mask in record_items(records, "val", fold).items:
            sweep.add(mask == LANDSLIDE, ensemble.predict(image[None])[0], mask != IGNORE)
    threshold, f1 = sweep.best_threshold()
    state.record_fold(0, FoldSummary(DONE, layout.model_name(0), threshold, epochs=0, best={"best_f1": f1},
                                     calibrated_on="every non-test chip of the records",
                                     inference=inference_estimate([model])))
    found, weight = validation_polygons(run, state, folds, ensemble)
    confidence = fit_confidence(found, weight)
    state.confidence = confidence.to_json() if confidence else None
    state.save(run)
    log.info("calibrated %s on %s without training: threshold %.2f (F1 %.3f on its chips)", config.init_from,
             records, threshold, f1)
    return state


def _fit_confidence(run: Path, state: RunState) -> None:
    """The polygons' confidence model, learnt on the finished folds' validation chips (run.json)."""
    model = fit_run_confidence(run, state)
    state.confidence = model.to_json() if model else None
    if model:
        kept, every = model.validation["kept"], model.validation["all"]
        log.info("polygon confidence: cut %.2f keeps %d of %d validation polygons; polygon precision %.2f -> %.2f, "
                 "landslides detected %.2f -> %.2f", model.cut, kept["polygons"], every["polygons"],
                 every["polygon_precision"], kept["polygon_precision"], every["detected_share"],
                 kept["detected_share"])
    else:
        log.info("polygon confidence: too few validation polygons to learn from; the inventory keeps every polygon")
    state.save(run)


def _check_folds(config: TrainConfig, manifest: Manifest, records: Path) -> None:
    if manifest.folds < 2:
        raise InputError(f"{records}: a test-only record set has no folds to train on; build training records")
    bad = [k for k in config.folds if not 0 <= k < manifest.folds]
    if bad:
        raise FoldRangeError(f"fold {bad[0]} is out of range; {records} has folds 0..{manifest.folds - 1}")


def replicas(config: TrainConfig) -> int:
    """The devices a step is mirrored over, without starting them (make_strategy does)."""
    if config.cpu_replicas > 1:
        return config.cpu_replicas
    gpus = len(tf.config.list_physical_devices("GPU"))
    return gpus if config.distribute == "mirrored" or (config.distribute == "auto" and gpus > 1) else 1


def choose_training_step(config: TrainConfig, manifest: Manifest, folds: list[int]) -> StepChoice:
    """Precision and XLA for the run's training step: as asked, by rule on GPUs, else the fastest
    of the candidates timed on this machine for this network (remembered between runs)."""
    steps = config.steps_per_epoch or max(1, count_examples(manifest, "train", folds[0] if folds else 0)
                                           // config.batch_size)
    network = (f"{config.init_from or config.model} width {config.width} bn {config.encoder_bn} "
               f"bands {len(manifest.band_names)} tile {config.tile} batch {config.batch_size} loss {config.loss.name} "
               f"tf {tf.__version__}")

    def measure(policy: str, xla: bool) -> float:
        keras.backend.clear_session()
        model = initial_model(load_source(config.init_from, config.trust_model), manifest, policy,
                              config.keep_normalization) if config.init_from else \
            build_model(model_config(config, manifest, policy))
        model.compile(optimizer=make_optimizer(config.optimizer, config.learning_rate, policy),
                      loss=make_loss(config.loss, manifest), jit_compile=xla)
        rng = np.random.default_rng(0)
        shape = (config.batch_size, config.tile, config.tile)
        x = rng.uniform(0, 255, (*shape, len(manifest.band_names))).astype(np.float32)
        y = (rng.random((*shape, 1)) > 0.9).astype(np.float32)
        seconds = time_steps(lambda: model.train_on_batch(x, y))
        keras.backend.clear_session()
        log.info("timed the training step in %s: %.3f s", label(policy, xla), seconds)
        return seconds

    gpu = bool(tf.config.list_physical_devices("GPU"))
    return choose_step(config.precision, config.xla, replicas(config), config.epochs * steps, network, measure,
                       Measurements.default(), gpu=gpu)


def _train_fold_alone(records: Path, run: Path, config: TrainConfig, fold: int, step: StepChoice,
                      progress: bool) -> FoldSummary:
    """train_fold as the whole work of a fresh process."""
    return train_fold(records, run, load_manifest(records), config, fold, make_strategy(config), step, progress)


def train_fold(records: Path, run: Path, manifest: Manifest, config: TrainConfig, fold: int,
               strategy: tf.distribute.Strategy, speed: StepChoice, progress: bool,
               extra_callbacks: Sequence[keras.callbacks.Callback] = ()) -> FoldSummary:
    """Train one fold, validating on it; the best model goes to its place in the run (RunFolder.model)."""
    started = time.perf_counter()  # a time budget counts from here: building the model is training time
    keras.backend.clear_session()  # memory must not grow across folds
    keras.utils.set_random_seed(config.seed + fold)
    layout = RunFolder(run)
    layout.fold(fold).mkdir(exist_ok=True)
    pipeline = pipeline_config(config, fold, strategy.num_replicas_in_sync)
    val_data = make_dataset(records, "val", fold, pipeline)
    steps = config.steps_per_epoch or max(1, count_examples(manifest, "train", fold) // config.batch_size)
    planned = read_plan(layout.fold(fold)) if config.time_budget else None  # a resumed fold keeps its budget's epochs
    epochs = planned.epochs if planned else config.epochs
    with strategy.scope():
        model, schedule = _compiled_model(config, manifest, speed, steps, epochs)
        log.info("fold %d: training step %s XLA", fold, "with" if speed.xla else "without")
        backup = EpochBackup(layout.fold(fold) / "backup")
        start = backup.restore(model)  # resume from the last finished epoch, losing at most one
    keep_history_before(layout.history(fold), start)
    clean_leftovers(layout.fold(fold), layout.model(fold).name)
    watch = _FoldWatch.start(layout, fold, config, backup, val_data, schedule, started, steps, epochs)
    if start < epochs:
        # Epoch e's batches depend on (seed, e) alone, so a resumed run sees what it would have seen.
        train_data = make_dataset(records, "train", fold, pipeline, epochs=range(start, epochs), steps=steps)
        model.fit(train_data, validation_data=val_data, initial_epoch=start, epochs=epochs,
                  steps_per_epoch=steps, validation_freq=config.validation_every,
                  callbacks=[*watch.callbacks, *extra_callbacks], verbose=_verbosity(progress), shuffle=False)
    watch.check(layout, fold, config.monitor)
    _log_settings(layout, run, fold, config, watch)
    shutil.rmtree(layout.fold(fold) / "backup", ignore_errors=True)  # the fold is done: nothing to resume
    keras.backend.clear_session()
    return _summary(layout, fold, config, speed, watch, model, epochs, strategy.num_replicas_in_sync, started)


def _compiled_model(config: TrainConfig, manifest: Manifest, speed: StepChoice, steps: int,
                    epochs: int) -> tuple[keras.Model, Any]:
    """The fold's network (new, or the --init-from source), checked to fit in memory and compiled
    with its scores and learning-rate schedule; returns the model and the schedule."""
    if config.init_from:
        model = initial_model(load_source(config.init_from, config.trust_model), manifest, speed.policy,
                              config.keep_normalization)
    else:
        model = build_model(model_config(config, manifest, speed.policy))
    check_fits(training_bytes(model, config.tile**2, config.batch_size),
               f"training with --tile {config.tile} and --batch-size {config.batch_size}",
               "lower --tile or --batch-size (or --width)")
    schedule = learning_rate(config, steps, epochs)
    model.compile(optimizer=make_optimizer(config.optimizer, schedule, speed.policy),
                  loss=make_loss(config.loss, manifest),
                  weighted_metrics=[*LandslideScore.family(config.threshold), *BestF1.pair()])
    compile_training_step(model, speed.xla)
    return model, schedule


@dataclass
class _FoldWatch:
    """The callbacks that watch a fold's epochs, and the ones asked about the fold afterwards."""

    callbacks: list[keras.callbacks.Callback]
    guard: NanGuard
    best: BestModel
    budget: TimeBudget | None

    @classmethod
    def start(cls, layout: RunFolder, fold: int, config: TrainConfig, backup: EpochBackup, val_data: tf.data.Dataset,
              schedule: Any, started: float, steps: int, epochs: int) -> _FoldWatch:
        history = layout.history(fold)
        best = BestModel(layout.model(fold), config.monitor, history, config.patience)
        guard = NanGuard()
        callbacks: list[keras.callbacks.Callback] = [
            guard, keras.callbacks.CSVLogger(str(history), append=True), best, backup,
            EpochTensorBoard(str(layout.logs(fold)), write_graph=False)]
        if config.init_from and config.freeze_encoder_epochs:
            callbacks.append(FreezeEncoder(config.freeze_encoder_epochs))
        budget = None
        if config.time_budget:
            warmup = getattr(schedule, "warmup_steps", 0)
            budget = TimeBudget(config.time_budget, started, steps, val_data, config.validation_every, epochs,
                                layout.fold(fold), schedule if isinstance(schedule, WarmupCosine) else None, warmup)
            callbacks.insert(0, budget)  # before the loggers: the plan is logged with the first epoch
        if config.log_images:
            shown = list(val_data.unbatch().take(config.log_images).as_numpy_iterator())
            callbacks.append(ValidationImages(layout.logs(fold) / "images", [s[0] for s in shown],
                                              [s[1] for s in shown], config.threshold, config.validation_every))
        return cls(callbacks, guard, best, budget)

    def check(self, layout: RunFolder, fold: int, monitor: str) -> None:
        """A fold that diverged, or never gave a finite score, is an error: nothing unusable is recorded."""
        if self.guard.failed_at is not None:
            epoch, step = self.guard.failed_at
            raise TrainingError(f"fold {fold}: the loss became NaN at epoch {epoch + 1}, step {step + 1}; "
                                "lower --learning-rate or check the records")
        if not layout.model(fold).exists():
            raise TrainingError(f"fold {fold}: no epoch gave a finite {monitor}; nothing was saved")


def _log_settings(layout: RunFolder, run: Path, fold: int, config: TrainConfig, watch: _FoldWatch) -> None:
    """The fold's settings and best scores for TensorBoard's HParams view."""
    plan = watch.budget.plan if watch.budget else None
    settings = {**_flat_settings(config, fold), **({"epochs": plan.epochs, "time_budget_s": plan.budget_seconds}
                                                    if plan else {})}
    log_hparams(layout.logs(fold) / "hparams", f"{run.name}/fold{fold}", settings, layout.history(fold),
                watch.best.best_epoch)


def _summary(layout: RunFolder, fold: int, config: TrainConfig, speed: StepChoice, watch: _FoldWatch,
             model: keras.Model, epochs: int, replicas: int, started: float) -> FoldSummary:
    budget, best = watch.budget, watch.best
    plan = budget.plan if budget else None
    return FoldSummary(
        DONE, layout.model_name(fold), _best_threshold(layout.history(fold), best.best_epoch, config.threshold),
        epochs=_epochs_trained(budget, epochs), best_epoch=best.best_epoch,
        best={config.monitor: best.sign * best.best}, precision=speed.policy, xla=speed.xla,
        speed_choice=speed.reason, step_seconds=speed.seconds or None, replicas=replicas,
        peak_memory_mb=round(peak_memory_mb()), train_seconds=round(time.perf_counter() - started, 1),
        inference=inference_estimate([model]),
        time_budget={**asdict(plan), "stopped_after": budget.stopped_after} if plan and budget else None)


def _epochs_trained(budget: TimeBudget | None, epochs: int) -> int:
    """The epochs the fold ran: as configured, as its budget planned, or fewer where the guard stopped it."""
    if budget is None or budget.plan is None:
        return epochs
    return budget.stopped_after or budget.plan.epochs


def _best_threshold(history: Path, epoch: int | None, fallback: float) -> float | None:
    """The validation F1-optimal threshold logged at the best epoch; None (the run keeps its set
    threshold) where that optimum is the sweep's first bin, 0: no threshold then did better on
    validation than calling every labelled pixel a landslide (BestF1 scores 0 there), and a map at 0
    marks every pixel of a scene a landslide."""
    import csv

    with history.open() as handle:
        for row in csv.DictReader(handle):
            if epoch is not None and int(row["epoch"]) == epoch and row.get("val_best_threshold") not in (None, ""):
                if not (float(row.get("val_best_f1") or 0) > 0 and float(row["val_best_threshold"]) > 0):
                    log.warning("no validation threshold did better than calling every pixel a landslide: keeping the "
                                "threshold %.2f; validation needs chips with both landslide and background labels",
                                fallback)
                    return None
                return float(row["val_best_threshold"])
    return fallback


def _verbosity(progress: bool) -> int:
    """Keras's live bar on a terminal, one line per epoch in a log file, nothing when quiet."""
    if not progress:
        return 0
    return 1 if sys.stdout.isatty() else 2


def _flat_settings(config: TrainConfig, fold: int) -> dict[str, Any]:
    """The settings that distinguish runs, flat, for the HParams view."""
    loss = config.loss
    return {"preset": config.preset, "model": config.model, "width": config.width, "loss": loss.name,
            "alpha": -1.0 if loss.alpha is None else loss.alpha, "gamma": loss.gamma, "alpha_for": loss.alpha_for,
            "tversky_weight": loss.tversky_weight, "epochs": config.epochs, "batch_size": config.batch_size,
            "learning_rate": config.learning_rate, "optimizer": config.optimizer, "fold": fold, "seed": config.seed,
            "init_from": config.init_from or "", "freeze_encoder_epochs": config.freeze_encoder_epochs}


def _open_run(run: Path, records: Path, manifest: Manifest, config: TrainConfig, resume: bool) -> RunState:
    """Create the run folder (or reopen it with --resume) and check it matches the records."""
    state_path = RunFolder(run).state
    if state_path.exists():
        if not resume:
            raise OutputError(f"{run}: holds a run already; pass --resume to continue it or choose another folder")
        state = RunState.load(run)
        if (state.band_names, state.resolution) != (manifest.band_names, manifest.resolution):
            raise InputError(f"{records}: bands {list(manifest.band_names)} at {manifest.resolution} m do not match "
                             f"the run's {list(state.band_names)} at {state.resolution} m; use the run's records")
        return state
    try:
        run.mkdir(parents=True, exist_ok=True)
        probe = run / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as error:
        raise OutputError(f"{run}: cannot write here ({error.strerror}); choose a writable run folder") from error
    with atomic_file(RunFolder(run).config) as temporary:
        dump_yaml(config, temporary)
    state = RunState(records=str(records.resolve()), manifest_sha256=_sha256(records / MANIFEST),
                     band_names=tuple(manifest.band_names), chip_size=manifest.chip_size,
                     chip_mode=manifest.chip_mode, resolution=manifest.resolution,
                     image_dtype=manifest.image_dtype, threshold=config.threshold, init_from=config.init_from)
    state.save(run)
    return state


def _architecture(model: keras.Model, fallback: str) -> str:
    """The architecture name a source model was built as ('fcn_fl' -> 'fcn-fl'), for config.yaml."""
    name = model.name.replace("_", "-")
    return name if name in MODELS else fallback


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
