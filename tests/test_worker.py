"""runtime/worker.py: a Dask worker's TensorFlow uses as many threads as the worker has."""

from __future__ import annotations

import subprocess
import sys

SCRIPT = """
import types
from lim_tf.runtime.worker import WorkerSetup
import tensorflow as tf
WorkerSetup().setup(types.SimpleNamespace(state=types.SimpleNamespace(nthreads=3)))
print(tf.config.threading.get_intra_op_parallelism_threads(), tf.config.threading.get_inter_op_parallelism_threads())
tf.constant(1.0) + 1.0  # TensorFlow has run: its pools are fixed now, and a second set-up leaves them
WorkerSetup().setup(types.SimpleNamespace(nthreads=1))
print(tf.config.threading.get_intra_op_parallelism_threads())
"""


def test_worker_setup_sets_tensorflow_threads_to_the_worker_s_and_tolerates_a_started_runtime():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, check=True, timeout=300)
    assert out.stdout.split() == ["3", "3", "3"]
