"""The package and the CLI type-check with mypy as setup.cfg configures it (check_untyped_defs on),
and lint clean with ruff: a hand-over whose type drifted fails here, not in a user's run."""

from __future__ import annotations

import configparser
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_mypy_checks_every_function_body():
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    assert config.getboolean("mypy", "check_untyped_defs")


def test_the_package_and_cli_type_check():
    result = subprocess.run([sys.executable, "-m", "mypy", "lim_tf", "cli"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:]


def test_the_code_lints_clean():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "lim_tf", "cli", "tests", "benchmarks"], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout[-3000:]
