"""Training within a time budget: the first epoch is timed, then the number of epochs (and with it
the cosine schedule) is fixed so that training and validation end within the budget.

The same recipe takes about four times longer on an AVX2-only CPU than on one with bfloat16 units,
so a fixed epoch count cannot promise an hour; a budget can. The decision is written to
FOLD/budget.json as soon as it is made, so a resumed fold keeps it. Should the machine slow down
later (another job starts), a guard stops training after the epoch past which the next one would
end over the budget: the schedule is then cut short, but the hour is kept. In the schedule's first
half the plan follows the epochs since it, both ways: a shared virtual machine measured 1.5 x
faster half an hour after its plan (which then used 37 of its 60 minutes), and whole epochs run
longer than the first epoch's timed steps (the input pipeline's stalls, callbacks; 176 s against
149 s planned on a Zen 3), which would leave the guard to cut the cosine before its end. Changing
the schedule's length there moves the learning rate a little; later it would undo the decay.
"""

from __future__ import annotations

import json
import logging
import math
import re
import statistics
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from lim_tf.atomic import atomic_file
from lim_tf.errors import ConfigError, InputError
from lim_tf.runtime.quiet import keras

log = logging.getLogger(__name__)

BUDGET_FILE = "budget.json"
SKIPPED_STEPS = 2  # the first steps trace the graph and warm the caches: not timed
MARGIN = 0.03  # share of the budget kept for what the timing does not see (saving, last logs)


def parse_duration(text: str | float) -> float:
    """Seconds from '90s', '45m' or '1.5h' (a number, as YAML gives it, is seconds already)."""
    if isinstance(text, (int, float)):
        seconds = float(text)
    else:
        match = re.fullmatch(r"\s*(\d+(?:\.\d*)?)\s*([smh]?)\s*", str(text).lower())
        if not match:
            raise ConfigError(f"--time-budget {text!r}: give a duration such as 90s, 45m or 1.5h")
        if not match.group(2):  # 45 could mean seconds or minutes (the preset's budget is 60m): ask
            raise ConfigError(f"--time-budget {text!r}: give a unit, such as {text.strip()}s or {text.strip()}m")
        seconds = float(match.group(1)) * {"": 1, "s": 1, "m": 60, "h": 3600}[match.group(2)]
    if not 0 < seconds <= 30 * 86400:
        raise ConfigError(f"--time-budget {text!r}: give a duration between 1 s and 30 days")
    return seconds


@dataclass(frozen=True)
class BudgetPlan:
    """What the timing found and the number of epochs it allows."""

    budget_seconds: float
    elapsed_seconds: float  # spent when the plan was made (building, tracing, the first epoch, one validation)
    step_seconds: float  # one training step, after tracing
    validation_seconds: float  # one validation pass
    steps_per_epoch: int
    validation_every: int
    epochs: int
    first_epochs: int | None = None  # the first plan's epochs, where the plan changed since


def epochs_within(budget: float, elapsed: float, epoch_seconds: float, validation_seconds: float,
                  validation_every: int, done: int, cap: int) -> int:
    """The total number of epochs (at least `done`, at most `cap`) that ends within `budget`, when
    `elapsed` seconds are spent and `done` epochs trained: a multiple of `validation_every` where
    possible, so the last epoch is validated."""
    per_epoch = epoch_seconds + validation_seconds / validation_every
    more = math.floor(max(budget * (1 - MARGIN) - elapsed, 0.0) / per_epoch) if per_epoch > 0 else cap
    total = min(cap, done + more)
    rounded = total - total % validation_every
    return max(done, rounded if rounded >= max(done, 1) else total)


class TimeBudget(keras.callbacks.Callback):
    """Times the first epoch's steps (after tracing) and one validation pass, then fixes the epochs:
    training stops after the last one, and the cosine schedule ends there."""

    def __init__(self, budget: float, started: float, steps: int, validation_data: Any, validation_every: int,
                 cap: int, folder: Path, schedule: Any = None, warmup_steps: int = 0) -> None:
        super().__init__()
        self.budget, self.started, self.steps, self.cap = budget, started, steps, cap
        self.validation_data, self.validation_every = validation_data, validation_every
        self.folder, self.schedule, self.warmup_steps = folder, schedule, warmup_steps
        self.plan: BudgetPlan | None = read_plan(folder)
        self._times: list[float] = []
        self._planned_at: tuple[int, float] | None = None  # (epochs done, clock) when the guard starts
        self.stopped_after: int | None = None  # epochs trained when the guard stopped training early

    def on_train_batch_end(self, batch: int, logs: dict | None = None) -> None:
        if self.plan is None:
            self._times.append(time.perf_counter())

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self.plan is None:
            self.plan = self._decide(epoch)
        now = time.perf_counter()
        if epoch + 1 >= self.plan.epochs:
            self.model.stop_training = True
        elif self._planned_at is None:
            self._planned_at = (epoch + 1, now)
        else:
            first, clock = self._planned_at
            mean = (now - clock) / (epoch + 1 - first)  # since the guard started, validations spread over epochs
            if now - self.started + mean > self.budget:
                self.stopped_after = epoch + 1
                self.model.stop_training = True
                log.warning("time budget %.0f min: epochs now take %.0f s (planned %.0f s); stopping after epoch "
                            "%d of %d to end within the budget", self.budget / 60, mean,
                            self.plan.step_seconds * self.steps + self.plan.validation_seconds / self.validation_every,
                            epoch + 1, self.plan.epochs)
            elif epoch + 1 - first >= self.validation_every and 2 * (epoch + 1) <= self.plan.epochs:
                self._replan(epoch + 1, now, mean)
                self.model.stop_training = epoch + 1 >= self.plan.epochs

    def _replan(self, done: int, now: float, mean: float) -> None:
        """Fit the plan to the epochs since it (their validations included): longer where they run
        faster than planned, shorter where slower, so the cosine ends within the budget."""
        assert self.plan is not None
        epochs = epochs_within(self.budget, now - self.started, mean, 0.0, self.validation_every, done, self.cap)
        if epochs == self.plan.epochs:
            return
        log.info("time budget %.0f min: epochs take %.0f s since the plan; %d epochs instead of %d",
                 self.budget / 60, mean, epochs, self.plan.epochs)
        self.plan = replace(self.plan, epochs=epochs, first_epochs=self.plan.first_epochs or self.plan.epochs)
        if self.schedule is not None:
            self.schedule.set_decay_steps(epochs * self.steps - self.warmup_steps)
        write_plan(self.folder, self.plan)

    def _decide(self, epoch: int) -> BudgetPlan:
        gaps = [b - a for a, b in zip(self._times[SKIPPED_STEPS:], self._times[SKIPPED_STEPS + 1:])]
        step = statistics.median(gaps) if gaps else (self._times[-1] - self.started) / max(len(self._times), 1)
        started = time.perf_counter()
        self.model.evaluate(self.validation_data, verbose=0)
        validation = time.perf_counter() - started
        elapsed = time.perf_counter() - self.started
        epochs = epochs_within(self.budget, elapsed, step * self.steps, validation, self.validation_every, epoch + 1,
                               self.cap)
        plan = BudgetPlan(self.budget, elapsed, step, validation, self.steps, self.validation_every, epochs)
        if self.schedule is not None:
            self.schedule.set_decay_steps(epochs * self.steps - self.warmup_steps)
        write_plan(self.folder, plan)
        log.info("time budget %.0f min: %.3f s per step, %.1f s per validation -> %d epochs", self.budget / 60, step,
                 validation, epochs)
        return plan


def read_plan(folder: Path) -> BudgetPlan | None:
    """The plan a fold already made (kept on --resume), or None."""
    path = Path(folder) / BUDGET_FILE
    if not path.exists():
        return None
    try:
        return BudgetPlan(**json.loads(path.read_text()))
    except (ValueError, TypeError) as error:  # edited by hand: say which file, not a traceback
        raise InputError(f"{path}: not a time-budget plan ({error}); delete it to plan again") from error


def write_plan(folder: Path, plan: BudgetPlan) -> None:
    with atomic_file(Path(folder) / BUDGET_FILE) as temporary:
        temporary.write_text(json.dumps(asdict(plan), indent=2) + "\n")
