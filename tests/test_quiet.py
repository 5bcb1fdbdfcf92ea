"""Importing the library, as a notebook or a script does, prints none of TensorFlow's native start-up
lines (oneDNN notices, CUDA probing), which no log level reaches."""

import os
import subprocess
import sys


def test_importing_the_library_prints_nothing():
    environment = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "LIM_TF_NATIVE_STDERR")}
    code = "import lim_tf.training.train, lim_tf.mapping.scene_map, lim_tf.runtime.quiet; print('imported')"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=environment)
    assert done.returncode == 0 and done.stdout == "imported\n", done.stderr
    assert done.stderr == ""
    # -vv keeps them, for whoever debugs TensorFlow itself
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**environment, "LIM_TF_NATIVE_STDERR": "1"})
    assert done.stderr != ""
