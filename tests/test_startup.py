"""Commands that run no network start at once: they, and every --help screen, never import
TensorFlow or Keras (which alone take seconds to load)."""

import subprocess
import sys

import pytest

PROBE = """
import sys
from lim_tf_cli.main import main
sys.argv = ["lim-tf", *sys.argv[1:]]
try:
    main()
except SystemExit as end:
    code = end.code
print("exit", code, "loaded", sorted(m for m in ("tensorflow", "keras", "tf2onnx", "onnxruntime") if m in sys.modules))
"""
HELP = [["--help"], ["models"], ["models", "bijie"], ["models", "--json"], *(
    [*command, "--help"] for command in (["data"], ["data", "build"], ["data", "stats"], ["data", "verify"],
                                         ["data", "merge"], ["data", "synth"], ["train"], ["eval"], ["map"],
                                         ["export"], ["models"]))]


def _probe(*args: str) -> str:
    done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, timeout=120)
    return done.stdout.strip().splitlines()[-1]


@pytest.mark.parametrize("args", HELP, ids=" ".join)
def test_help_and_models_load_no_network_library(args):
    assert _probe(*args) == "exit 0 loaded []"


def test_reading_records_loads_no_network_library(trained):
    _, records, _ = trained
    assert _probe("data", "stats", str(records)) == "exit 0 loaded []"
    assert _probe("data", "verify", str(records)) == "exit 0 loaded []"


def test_a_command_that_runs_a_network_does_load_it(tmp_path):
    # the probe can see a load: a map of nothing still imports TensorFlow before refusing the scene
    assert _probe("map", str(tmp_path / "absent.tif"), "bijie", str(tmp_path / "out")).startswith("exit 1 loaded [")
    assert "tensorflow" in _probe("map", str(tmp_path / "absent.tif"), "bijie", str(tmp_path / "out"))
