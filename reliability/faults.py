"""Writes that fail part-way: every command run under a file-size limit (as a full disk would stop
it), set below its largest output file. Each must end with one line that names the output and
leave it as it was (absent, or the old one whole)."""

from __future__ import annotations

import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from reliability.kills import MARKER, Case, cases, leftovers, lim_tf, prepare


def _limited(limit: int):
    def apply() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # the write fails with EFBIG instead of killing
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    return apply


def fail_once(case: Case, work: Path, reference: Path) -> list[str]:
    """Problems seen when `case` runs out of space half-way; empty when it behaves."""
    largest = max((p.stat().st_size for p in reference.rglob("*") if p.is_file()), default=0)
    output = work / f"{case.name}-full"
    if case.overwrite:
        shutil.copytree(reference, output)
        (output / MARKER).write_text("old")
    command = [sys.executable, "-m", "lim_tf_cli.main", "-q", *map(str, case.args(output))]
    done = subprocess.run(command, capture_output=True, text=True, preexec_fn=_limited(max(largest // 2, 4096)))
    problems = []
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    if done.returncode == 0:
        problems.append("it succeeded although a file could not be written whole")
    elif len(lines) != 1 or not lines[0].startswith("Error: ") or str(output.name) not in lines[0]:
        problems.append(f"not one line naming the output: {done.stderr[-400:]!r}")
    if case.overwrite and not (output / MARKER).exists():
        problems.append("the old output was replaced by a failed run")
    elif not case.overwrite and output.exists() and case.name != "train-one-fold" and case.name != "train-k-folds":
        problems.append("a half-written output was left")
    if output.exists() and case.name.startswith("train"):
        try:  # a run folder is resumable state: whatever it holds must load
            case.check(output)
        except AssertionError as error:
            problems.append(f"the run folder holds a broken file: {error}")
    stray = leftovers(output) if output.parent.exists() else []
    stray = [name for name in stray if not name.endswith(".work")]
    shutil.rmtree(output, ignore_errors=True)
    return problems + ([f"temporaries left: {stray[:3]}"] if stray else [])


def run_faults(work: Path, only: list[str] | None = None, inputs: dict[str, Path] | None = None) -> dict[str, Any]:
    """Each command (or those named) once, out of space half-way. Returns the report."""
    work.mkdir(parents=True, exist_ok=True)
    inputs = inputs or prepare(work)
    report = {}
    for case in cases(inputs):
        if only and case.name not in only:
            continue
        reference = work / f"{case.name}-reference"
        if not reference.exists():
            lim_tf(*case.args(reference))
        report[case.name] = fail_once(case, work, reference)
    return report
