"""Dask workers lost at any moment of a `map --cluster` run: while they are set up (importing
TensorFlow), while they predict, and while the run tears down. A real scheduler and two workers
under nannies run as processes on 127.0.0.1; the command runs as a user runs it. Each run must
finish and give the maps a run on an untouched local cluster gives (workers compute alike)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from lim_tf.testing import dask_cluster
from reliability.kills import _map_check, _map_fingerprint, lim_tf, prepare

MOMENTS = ("set-up", "mid-run", "tear-down")


def _loaded_tensorflow(pid: int) -> bool:
    with contextlib.suppress(OSError):
        return "libtensorflow" in Path(f"/proc/{pid}/maps").read_text()
    return False


def _killer(moment: str, pids: list[int], out: Path, rng: np.random.Generator, killed: list[int]):
    """A thread that kills one worker at `moment`: as TensorFlow loads in it; once tiles are being
    written; or once the outputs are in place and the client winds down."""
    work = out.parent / f".{out.name}.work"

    def run() -> None:
        deadline = time.time() + 300
        while time.time() < deadline and not killed:
            if moment == "set-up":
                target = next((pid for pid in pids if _loaded_tensorflow(pid)), None)
            elif moment == "mid-run":
                target = pids[int(rng.integers(0, len(pids)))] if len(list(work.rglob("*.npz"))) >= 2 else None
            else:
                target = pids[int(rng.integers(0, len(pids)))] if out.exists() else None
            if target is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(target, signal.SIGKILL)
                killed.append(target)
            time.sleep(0.002)

    return threading.Thread(target=run, daemon=True)


def run_worker_loss(work: Path, per_moment: int = 1, seed: int = 0, inputs: dict[str, Path] | None = None,
                    moments: tuple[str, ...] = MOMENTS) -> dict[str, Any]:
    """`per_moment` runs with a worker killed at each moment, each on a fresh cluster (so set-up is
    real). Returns, per moment, the runs, those that finished, those equal to the untouched map."""
    work.mkdir(parents=True, exist_ok=True)
    inputs = inputs or prepare(work)
    scene = inputs["synthetic"] / "scene" / "scene.tif"
    args = [scene, inputs["run"]]
    reference = work / "cluster-reference"
    if not reference.exists():
        lim_tf("map", *args, reference, "--tile", "64", "--cluster", "local:2")
    expected = _map_fingerprint(reference)
    rng = np.random.default_rng(seed)
    report: dict[str, Any] = {}
    for moment in moments:
        outcome = {"runs": 0, "killed": 0, "finished": 0, "equal": 0, "failures": []}
        for number in range(per_moment):
            folder = work / f"cluster-{moment}-{number}"
            folder.mkdir(parents=True, exist_ok=True)
            out = folder / "out"
            with dask_cluster(folder) as (address, pids):
                killed: list[int] = []
                killer = _killer(moment, pids, out, rng, killed)
                killer.start()
                done = subprocess.run([sys.executable, "-m", "lim_tf_cli.main", "-q", "map", *map(str, args), str(out),
                                       "--tile", "64", "--cluster", address], capture_output=True, text=True)
                killer.join(timeout=5)
            outcome["runs"] += 1
            outcome["killed"] += bool(killed)
            if done.returncode:
                outcome["failures"].append(f"{moment}: {done.stderr.strip()[-300:]}")
                continue
            outcome["finished"] += 1
            try:
                _map_check(out)
                if _map_fingerprint(out) == expected:
                    outcome["equal"] += 1
                else:
                    outcome["failures"].append(f"{moment}: the maps differ from the in-process run's")
            except AssertionError as error:
                outcome["failures"].append(f"{moment}: {error}")
        report[moment] = outcome
    return report
