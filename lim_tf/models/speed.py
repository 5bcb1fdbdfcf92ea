"""`--precision auto` and `--xla auto` on a CPU, decided by timing the candidates here: a few steps of
the run's own network, batch and tile in float32 and (where the CPU computes bfloat16) mixed
bfloat16, each with and without XLA. Measured once per machine and network (lim_tf.runtime.measured),
then remembered. On GPUs, for runs too short to repay the timing (under xla.MIN_STEPS steps), and
where one candidate is left, the rules of precision.py and xla.py decide without timing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from lim_tf.models.precision import cpu_has_bf16, explain_precision
from lim_tf.models.xla import MIN_STEPS, explain_xla
from lim_tf.runtime.measured import Measurements

TIMED_STEPS = 4  # after two untimed ones (tracing, compiling, warming up)


@dataclass(frozen=True)
class StepChoice:
    """What the training step computes in, and why."""

    policy: str
    xla: bool
    reason: str
    seconds: dict[str, float] = field(default_factory=dict)  # per step, by candidate, where measured


def label(policy: str, xla: bool) -> str:
    return f"{policy}{' + XLA' if xla else ''}"


def candidates(precision: str, xla: str, replicas: int, steps: int | None,
               bf16: bool | None = None) -> list[tuple[str, bool]]:
    """The (policy, xla) pairs worth timing on a CPU for these settings."""
    policies = [precision] if precision != "auto" else ["float32"] + (
        ["mixed_bfloat16"] if (cpu_has_bf16() if bf16 is None else bf16) else [])  # emulated bf16: never faster
    if xla != "auto":
        flags = [xla == "on"]
    elif replicas > 1 or (steps is not None and steps < MIN_STEPS):
        flags = [False]
    else:
        flags = [False, True]
    return [(policy, flag) for policy in policies for flag in flags]


def choose_step(precision: str, xla: str, replicas: int, steps: int | None, network: str,
                measure: Callable[[str, bool], float], store: Measurements, gpu: bool = False,
                bf16: bool | None = None) -> StepChoice:
    """The fastest candidate for `network` (a description of the model, batch and tile), timed with
    `measure(policy, xla) -> seconds a step`, or remembered from an earlier run on this machine."""
    pairs = candidates(precision, xla, replicas, steps, bf16)
    if gpu or len(pairs) == 1 or (steps is not None and steps < MIN_STEPS):
        policy, why_policy = explain_precision(precision, gpu=gpu, bf16=bf16)
        flag, why_xla = explain_xla(xla, policy, replicas, gpu=gpu, steps=steps)
        short = f"{steps} steps, too few to repay timing the candidates: " if steps is not None and \
            steps < MIN_STEPS and len(pairs) > 1 and not gpu else ""
        return StepChoice(policy, flag, f"{short}{why_policy}; XLA {'on' if flag else 'off'}: {why_xla}")
    remembered = store.load("training step", network).get("seconds", {})
    seconds = {label(p, x): remembered[label(p, x)] for p, x in pairs if label(p, x) in remembered}
    measured_now = [pair for pair in pairs if label(*pair) not in seconds]
    for policy, flag in measured_now:
        seconds[label(policy, flag)] = measure(policy, flag)
    if measured_now:
        store.save({"seconds": {**remembered, **seconds}, "network": network}, "training step", network)
    policy, flag = min(pairs, key=lambda pair: seconds[label(*pair)])
    timings = ", ".join(f"{name} {value:.3f} s" for name, value in sorted(seconds.items(), key=lambda kv: kv[1]))
    source = "measured here now" if measured_now else "measured on this machine before"
    return StepChoice(policy, flag, f"fastest of the training steps {source}: {timings}", seconds)


def time_steps(step: Callable[[], object], steps: int = TIMED_STEPS) -> float:
    """Seconds per call of `step`, after two untimed calls."""
    step()
    step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return (time.perf_counter() - start) / steps
