"""Fuzzing every entry point with hypothesis: each generated input goes through the real command
line (in this process, with a time limit) and must be accepted with a valid output, or refused in
one line that names the file, leaving no output. Anything else is counted and reported."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from click.testing import CliRunner
from hypothesis import HealthCheck, given, seed, settings

from reliability.inputs import STRATEGIES, Scenario
from reliability.kills import _eval_check, _map_check, _records_check, lim_tf

TIME_LIMIT = 60  # seconds per input; longer is a hang


class Hang(Exception):
    pass


def prepare(base: Path) -> Path:
    """A threshold model (base/models/known.keras), a Bijie folder, its records and a tiny run."""
    import keras
    import numpy as np

    from reliability.inputs import _good_bijie

    (base / "models").mkdir(parents=True, exist_ok=True)
    inputs = keras.Input((None, None, 3))
    layer = keras.layers.Conv2D(1, 1, activation="sigmoid")
    model = keras.Model(inputs, layer(inputs))
    kernel = np.zeros((1, 1, 3, 1), np.float32)
    kernel[0, 0, 0, 0] = 1.0
    layer.set_weights([kernel, np.array([-128.0], np.float32)])
    model.save(base / "models/known.keras")
    _good_bijie(base / "bijie", np.random.default_rng(0))
    lim_tf("data", "build", base / "bijie", base / "records", "--folds", "2", "--test-landslide", "1")
    lim_tf("train", base / "records", base / "run", "--width", "0.0625", "--epochs", "1", "--tile", "32",
           "--batch-size", "2")
    return base / "models/known.keras"


def _run(args: list) -> tuple[Any, str]:
    """The CLI's result and what native code printed to file descriptor 2 meanwhile."""
    from lim_tf_cli.main import main

    with tempfile.TemporaryFile() as native:
        saved = os.dup(2)
        os.dup2(native.fileno(), 2)
        previous = signal.signal(signal.SIGALRM, lambda *_: (_ for _ in ()).throw(Hang()))
        signal.alarm(TIME_LIMIT)
        try:
            result = CliRunner().invoke(main, ["-q", *map(str, args)])
        finally:
            signal.alarm(0)
            signal.signal(signal.SIGALRM, previous)
            os.dup2(saved, 2)
            os.close(saved)
        native.seek(0)
        return result, native.read().decode(errors="replace")


def tree(folder: Path) -> dict[str, str]:
    """Every file under `folder` (links not followed) with a digest of its bytes."""
    import hashlib

    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() and not p.is_symlink()
            else "link" if p.is_symlink() else "folder" for p in sorted(folder.rglob("*"))}


def judge(args: list, culprit: str, out: Path) -> str:
    """'accepted', 'refused', or what went wrong. A refusal must leave the folder of the input as it
    was: nothing written, nothing changed, nothing removed (an OUT given as an input included)."""
    before = tree(out.parent)
    try:
        result, native = _run(args)
    except Hang:
        return "hang"
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        return f"traceback: {type(result.exception).__name__}: {str(result.exception)[:160]}"
    lines = [line for line in (result.output + native).splitlines() if line.strip()]
    if result.exit_code == 0:
        try:
            if out.exists():
                {"data": _records_check, "map": _map_check, "eval": _eval_check}.get(str(args[0]), lambda o: None)(out)
        except Exception as error:  # noqa: BLE001 - any failure to read it back is a broken output
            return f"accepted, but the output is not whole: {str(error)[:160]}"
        return "accepted"
    after = tree(out.parent)
    if after != before:
        changed = sorted(set(after.items()) ^ set(before.items()))[:3]
        return f"refused, but left output behind or changed an input: {changed}"
    if len(lines) != 1 or not lines[0].startswith("Error: "):
        return f"refused in {len(lines)} lines: {' | '.join(lines)[:240]}"
    if culprit not in lines[0]:
        return f"refused without naming {culprit}: {lines[0][:200]}"
    return "refused"


def run_fuzz(base: Path, examples: int, start: int = 0, kinds: list[str] | None = None) -> dict[str, Any]:
    """`examples` generated inputs of each kind; returns counts and the first few problems."""
    model = prepare(base)
    report: dict[str, Any] = {}
    for kind, strategy in STRATEGIES.items():
        if kinds and kind not in kinds:
            continue
        outcomes: Counter = Counter()
        problems: list[str] = []

        @seed(start + sum(map(ord, kind)))
        @settings(max_examples=examples, deadline=None, database=None, derandomize=False,
                  suppress_health_check=list(HealthCheck))
        @given(strategy())
        def one(scenario: Scenario) -> None:
            folder = Path(tempfile.mkdtemp(prefix="fuzz-", dir=base))
            try:
                args, culprit = scenario.write(folder, model)
                verdict = judge(args, culprit, folder / "out")
            finally:
                shutil.rmtree(folder, ignore_errors=True)
            outcomes["accepted" if verdict == "accepted" else "refused" if verdict == "refused" else "problem"] += 1
            if verdict not in ("accepted", "refused"):
                outcomes[verdict.split(":")[0]] += 1
                if len(problems) < 8:
                    problems.append(f"{' '.join(map(str, args))[:200]} -> {verdict}")

        started = time.perf_counter()
        one()
        report[kind] = {**outcomes, "seconds": round(time.perf_counter() - started, 1), "problems": problems}
        print(kind, dict(outcomes), flush=True)
    return report


def totals(report: dict[str, Any]) -> dict[str, int]:
    """Inputs, tracebacks, hangs, half-written outputs and refusals that were not one line naming the file."""
    count = Counter()
    for kind in report.values():
        count["inputs"] += kind.get("accepted", 0) + kind.get("refused", 0) + kind.get("problem", 0)
        count["tracebacks"] += kind.get("traceback", 0)
        count["hangs"] += kind.get("hang", 0)
        count["half_written"] += sum(v for k, v in kind.items()
                                     if k.startswith("refused, but left output behind") or k.startswith("accepted, but"))
        count["problems"] += kind.get("problem", 0)
    return dict(count)
