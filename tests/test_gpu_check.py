"""benchmarks/gpu_check.py: on a CPU-only machine it says so in one line and exits 0; its code paths
(training steps, MirroredStrategy, mapping) run on logical CPUs with --cpu-replicas."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "gpu_check.py"


def _run(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, env=env, timeout=600)


def test_without_a_gpu_it_says_so_and_exits_cleanly():
    done = _run()
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines() == ["gpu_check: no GPU visible to TensorFlow on this machine; "
                                                "nothing to check"]


@pytest.mark.slow
def test_its_code_paths_run_on_logical_cpus():
    done = _run("--cpu-replicas", "2", "--steps", "2")
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["devices"]["kind"] == "CPU" and len(report["devices"]["logical"]) == 2
    assert report["mirrored"]["replicas"] == 2
    for label in ("fcn-fl", "cpu-recipe"):
        step = report["steps"][label]
        assert step["tiles_per_second"] > 0 and 0 < step["fraction_of_ceiling"] and math.isfinite(step["fraction_of_ceiling"])
    assert report["map"]["size"] == 64 and report["map"]["megapixels_per_second"] > 0
