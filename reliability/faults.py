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


def _mounted(mount: Path, size: int, inodes: int) -> bool:
    """A tmpfs of `size` bytes and `inodes` files at `mount` (root only; False where it cannot be)."""
    mount.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={max(size, 4096)},nr_inodes={inodes}", "tmpfs",
                           str(mount)], capture_output=True)
    return done.returncode == 0


def fill_once(case: Case, work: Path, reference: Path, size: int, inodes: int) -> list[str] | None:
    """Problems seen when `case` writes OUT onto a small file system, full of bytes or of inodes
    part-way through the writes themselves; None where no file system can be mounted here."""
    mount = work / f"{case.name}-tmpfs"
    if not _mounted(mount, size, inodes):
        return None
    try:
        output = mount / "out"
        if case.overwrite:  # an old output to keep: copied in first, if the small disk holds it
            try:
                shutil.copytree(reference, output)
                (output / MARKER).write_text("old")
            except OSError:
                shutil.rmtree(output, ignore_errors=True)
        had_old = (output / MARKER).exists()
        done = subprocess.run([sys.executable, "-m", "lim_tf_cli.main", "-q", *map(str, case.args(output))],
                              capture_output=True, text=True)
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        problems = []
        if done.returncode == 0:
            try:
                case.check(output)
            except Exception as error:  # noqa: BLE001 - any failure to read it back is a broken output
                problems.append(f"it succeeded but the output is not whole: {str(error)[:160]}")
        elif len(lines) != 1 or not lines[0].startswith("Error: ") or "out" not in lines[0]:
            problems.append(f"not one line naming the output: {done.stderr[-400:]!r}")
        elif had_old and not (output / MARKER).exists():
            problems.append("the old output was replaced by a failed run")
        elif not had_old and output.exists() and not case.name.startswith("train"):
            problems.append("a half-written output was left")
        elif output.exists() and case.name.startswith("train"):
            try:  # a run folder is resumable state: whatever it holds must load
                case.check(output)
            except Exception as error:  # noqa: BLE001
                problems.append(f"the run folder holds a broken file: {str(error)[:160]}")
        stray = [p.name for p in mount.iterdir() if p.name.startswith(".out.") and not p.name.endswith(".work")]
        return problems + ([f"temporaries left: {stray[:3]}"] if stray else [])
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def run_disk_faults(work: Path, per_case: int = 3, seed: int = 0, only: list[str] | None = None,
                    inputs: dict[str, Path] | None = None) -> dict[str, Any]:
    """Each command writing onto small tmpfs file systems: `per_case` draws of a byte size below its
    output's and of an inode count below its file count. Returns the problems by case, or a note that
    no tmpfs could be mounted here (mounting needs root)."""
    import numpy as np

    work.mkdir(parents=True, exist_ok=True)
    inputs = inputs or prepare(work)
    rng = np.random.default_rng(seed)
    report: dict[str, Any] = {}
    for case in cases(inputs):
        if only and case.name not in only:
            continue
        reference = work / f"{case.name}-reference"
        if not reference.exists():
            lim_tf(*case.args(reference))
        files = [p for p in reference.rglob("*")]
        total = sum(p.stat().st_size for p in files if p.is_file())
        outcomes = []
        for draw in range(per_case):
            if draw % 2 == 0:  # bytes run out: between a tenth and all of what the output needs
                size, inodes = int(total * rng.uniform(0.1, 1.0)), 10_000
            else:  # inodes run out: fewer files than the output (and its temporaries) make
                size, inodes = total * 4 + (1 << 22), int(rng.integers(2, max(3, len(files) + 2)))
            problems = fill_once(case, work, reference, size, inodes)
            if problems is None:
                return {"skipped": "no tmpfs can be mounted here (mounting needs root)"}
            outcomes += [f"size {size}, inodes {inodes}: {p}" for p in problems]
        report[case.name] = outcomes
    return report
