"""Training within a time budget: durations, the epoch rule on hand-worked cases, a tiny run that
stops where its plan says, and a resumed run that keeps the plan it made before the interruption."""

from __future__ import annotations

import csv
import json

import keras
import pytest
import tensorflow as tf
from conftest import TINY_RUN

from lim_tf.config import resolve_train_config
from lim_tf.errors import ConfigError
from lim_tf.training.budget import BUDGET_FILE, epochs_within, parse_duration, read_plan
from lim_tf.training.optimizers import WarmupCosine
from lim_tf.training.train import train


@pytest.mark.parametrize("text, seconds", [("90s", 90), ("45m", 2700), ("1.5h", 5400), (600, 600), (" 2M ", 120)])
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["soon", "0s", "-5m", "45 minutes", "40d"])
def test_bad_durations_are_refused(text):
    with pytest.raises(ConfigError, match="--time-budget"):
        parse_duration(text)


def test_a_bare_number_on_the_command_line_needs_a_unit():
    # "45" beside a preset whose budget is 60m could mean 45 s or 45 min: refused, not guessed
    with pytest.raises(ConfigError, match="give a unit, such as 45s or 45m"):
        parse_duration("45")


def test_the_epochs_that_fit():
    # 97 s usable (3 % margin), 10 spent: 87 s at 10 s an epoch + 6 s validation every 3rd = 12 s -> 7 more;
    # 1 done + 7 = 8, rounded down to a multiple of 3 so the last epoch is validated -> 6.
    assert epochs_within(100, 10, 10, 6, 3, done=1, cap=50) == 6
    assert epochs_within(1e9, 10, 10, 6, 3, done=1, cap=10) == 9  # the cap, rounded to the validation rhythm
    assert epochs_within(100, 10, 10, 6, 1, done=1, cap=50) == 6  # 87 // 16 = 5 more
    assert epochs_within(5, 60, 10, 6, 3, done=1, cap=50) == 1  # over budget already: stop after the first
    assert epochs_within(100, 10, 30, 0, 3, done=1, cap=50) == 3  # 87 // 30 = 2 more: 1 + 2 = 3, a multiple of 3
    assert epochs_within(100, 10, 30, 0, 3, done=1, cap=2) == 2  # below one rhythm: keep what fits


def _history_epochs(path):
    with path.open() as handle:
        return [int(row["epoch"]) for row in csv.DictReader(handle)]


def test_a_run_over_its_budget_stops_after_the_first_epoch_and_says_so(records, tmp_path):  # noqa: F811
    config = resolve_train_config("fcn-fl", overrides={**TINY_RUN, "epochs": 5, "time_budget": 1.0,
                                                       "steps_per_epoch": 3})
    state = train(records, tmp_path / "run", config, progress=False)
    plan = read_plan(tmp_path / "run/fold0")
    assert plan.epochs == 1 and state.folds["0"].epochs == 1  # building and tracing alone outlast 1 s
    assert _history_epochs(tmp_path / "run/fold0/history.csv") == [0]
    assert state.folds["0"].time_budget["budget_seconds"] == 1.0
    assert plan.epochs == epochs_within(1.0, plan.elapsed_seconds, plan.step_seconds * 3, plan.validation_seconds,
                                        1, 1, 5)


class Interrupt(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == 1:
            raise KeyboardInterrupt


def test_a_resumed_run_keeps_the_epochs_its_budget_chose(records, tmp_path):  # noqa: F811
    config = resolve_train_config("fcn-fl", overrides={**TINY_RUN, "epochs": 4, "time_budget": 3600.0,
                                                       "steps_per_epoch": 3})
    with pytest.raises(KeyboardInterrupt):
        train(records, tmp_path / "run", config, progress=False, callbacks=[Interrupt()])
    plan_file = tmp_path / "run/fold0" / BUDGET_FILE
    plan = json.loads(plan_file.read_text())
    assert plan["epochs"] == 4  # an hour is ample: the cap
    plan["epochs"] = 3  # as if the first epoch had been slow: a re-decision would give 4 again
    plan_file.write_text(json.dumps(plan))
    state = train(records, tmp_path / "run", config, resume=True, progress=False)
    assert _history_epochs(tmp_path / "run/fold0/history.csv") == [0, 1, 2]
    assert state.folds["0"].epochs == 3


def test_the_schedule_length_can_be_set_after_tracing():
    schedule = WarmupCosine(0.0, 100, alpha=0.01, warmup_target=1e-3, warmup_steps=10)
    rate = tf.function(lambda step: schedule(step))
    rate(tf.constant(50))  # traced while the decay lasts 100 steps
    schedule.set_decay_steps(40)
    expected = keras.optimizers.schedules.CosineDecay(0.0, 40, alpha=0.01, warmup_target=1e-3, warmup_steps=10)
    for step in (0, 5, 10, 30, 49, 50, 80):
        assert float(rate(tf.constant(step))) == pytest.approx(float(expected(step)), rel=1e-6)
    assert WarmupCosine.from_config(schedule.get_config()).get_config()["decay_steps"] == 40


def test_epochs_given_alone_turn_the_presets_budget_off():
    assert resolve_train_config("cpu").time_budget == 3600
    assert resolve_train_config("cpu", overrides={"epochs": 15}).time_budget is None
    both = resolve_train_config("cpu", overrides={"epochs": 15, "time_budget": 600.0})
    assert (both.epochs, both.time_budget) == (15, 600)


def test_a_machine_that_slows_down_is_stopped_before_the_budget_runs_out(tmp_path, monkeypatch):
    """Planned: 10 epochs of 10 s in a 100 s budget. The guard starts after the first epoch (clock 10);
    then epochs take 10, 25 and 35 s. After the fourth (clock 80) the mean epoch since the guard
    started is (80 - 10) / 3 = 23.3 s, and 80 + 23.3 > 100: training stops there, not at epoch 10."""
    from lim_tf.training import budget as module
    from lim_tf.training.budget import BudgetPlan, TimeBudget, write_plan

    write_plan(tmp_path, BudgetPlan(100.0, 10.0, 1.0, 0.0, 10, 1, 10))
    guard = TimeBudget(100.0, 0.0, 10, None, 1, 50, tmp_path)
    model = type("Model", (), {"stop_training": False})()
    guard.set_model(model)
    clock = iter([10.0, 20.0, 45.0, 80.0])
    monkeypatch.setattr(module.time, "perf_counter", lambda: next(clock))
    for epoch in range(3):
        guard.on_epoch_end(epoch)
        assert not model.stop_training, epoch
    guard.on_epoch_end(3)
    assert model.stop_training and guard.stopped_after == 4


class _Schedule:
    decay_steps = None

    def set_decay_steps(self, steps):
        self.decay_steps = steps


def _ten_planned_epochs(tmp_path, monkeypatch, epoch_seconds: float, epochs: int):
    """(guard, model, schedule): a plan of 10 epochs of 4 steps of 2.5 s in a 100 s budget, 10 s
    spent at the plan after epoch 1, 4 warm-up steps; then `epochs` epochs end every `epoch_seconds`."""
    from lim_tf.training import budget as module
    from lim_tf.training.budget import BudgetPlan, TimeBudget, write_plan

    schedule = _Schedule()
    write_plan(tmp_path, BudgetPlan(100.0, 10.0, 2.5, 0.0, 4, 1, 10))
    guard = TimeBudget(100.0, 0.0, 4, None, 1, 50, tmp_path, schedule, warmup_steps=4)
    model = type("Model", (), {"stop_training": False})()
    guard.set_model(model)
    clock = iter([10.0 + epoch_seconds * k for k in range(epochs)])  # the ends of epochs 1..epochs
    monkeypatch.setattr(module.time, "perf_counter", lambda: next(clock))
    return guard, model, schedule


def test_a_machine_that_speeds_up_gets_more_epochs_in_the_schedules_first_half(tmp_path, monkeypatch):
    """Planned: 10 epochs of 10 s in a 100 s budget (10 s spent at the plan, after epoch 1). Epochs
    then take 5 s. After epoch 2 (clock 15) the mean since the plan is 5 s: 97 s usable (3 % margin)
    - 15 spent = 82 s -> 16 more epochs, 18 in all; the schedule's decay is stretched to 18 epochs of
    4 steps less the 4 warm-up steps. Training then stops after epoch 18, at clock 95: within 100 s."""
    guard, model, schedule = _ten_planned_epochs(tmp_path, monkeypatch, epoch_seconds=5.0, epochs=18)
    guard.on_epoch_end(0)
    guard.on_epoch_end(1)
    assert guard.plan.epochs == 18 and guard.plan.first_epochs == 10
    assert schedule.decay_steps == 18 * 4 - 4
    assert read_plan(tmp_path).epochs == 18  # a resumed fold keeps the longer plan
    for epoch in range(2, 17):
        guard.on_epoch_end(epoch)
        assert not model.stop_training, epoch
    guard.on_epoch_end(17)
    assert model.stop_training and guard.stopped_after is None


def test_epochs_slower_than_the_timed_steps_shorten_the_plan_so_the_cosine_ends(tmp_path, monkeypatch):
    """Planned: 10 epochs of 10 s in a 100 s budget (10 s spent at the plan, after epoch 1). Whole
    epochs then take 15 s. After epoch 2 (clock 25) the mean since the plan is 15 s: 97 s usable -
    25 spent = 72 s -> 4 more epochs, 6 in all, the decay shortened to 6 x 4 - 4 steps. Training ends
    with the plan after epoch 6 (clock 85), not cut by the guard after epoch 7 of 10 (clock 100)."""
    guard, model, schedule = _ten_planned_epochs(tmp_path, monkeypatch, epoch_seconds=15.0, epochs=7)
    guard.on_epoch_end(0)
    guard.on_epoch_end(1)
    assert guard.plan.epochs == 6 and guard.plan.first_epochs == 10 and schedule.decay_steps == 6 * 4 - 4
    assert read_plan(tmp_path).epochs == 6
    for epoch in range(2, 5):
        guard.on_epoch_end(epoch)
        assert not model.stop_training, epoch
    guard.on_epoch_end(5)
    assert model.stop_training and guard.stopped_after is None  # the plan ended it, not the guard


def test_a_plan_past_its_first_half_does_not_grow(tmp_path, monkeypatch):
    """Planned 6 epochs; the machine doubles its speed only after epoch 3 (half the plan): the
    schedule has decayed halfway and is left alone."""
    from lim_tf.training import budget as module
    from lim_tf.training.budget import BudgetPlan, TimeBudget, write_plan

    write_plan(tmp_path, BudgetPlan(100.0, 10.0, 1.0, 0.0, 10, 1, 6))
    guard = TimeBudget(100.0, 0.0, 10, None, 1, 50, tmp_path)
    model = type("Model", (), {"stop_training": False})()
    guard.set_model(model)
    clock = iter([10.0, 25.0, 40.0, 45.0, 50.0, 55.0])
    monkeypatch.setattr(module.time, "perf_counter", lambda: next(clock))
    for epoch in range(6):
        guard.on_epoch_end(epoch)
    assert guard.plan.epochs == 6 and model.stop_training
