"""Set-up of a Dask worker process for lim-tf tasks (imported only when a cluster is used)."""

from __future__ import annotations

from typing import Any

from distributed import WorkerPlugin


class WorkerSetup(WorkerPlugin):
    """Runs when a worker starts (replacement workers included), before any task is unpickled:
    imports TensorFlow without its native start-up lines (`verbose` keeps them, as -vv does for the
    CLI) and sets its thread pools to the worker's Dask thread count, so every worker, however it
    was started, computes a tile with the same kernels and gives the same bits."""

    name = "lim-tf-worker-setup"

    def __init__(self, verbose: bool = False) -> None:
        self.verbose = verbose

    def setup(self, worker: Any) -> None:
        if self.verbose:
            import tensorflow as tf
        else:
            from lim_tf.runtime.process import import_tensorflow_quietly

            tf = import_tensorflow_quietly()
        threads = max(1, int(getattr(getattr(worker, "state", worker), "nthreads", 1) or 1))
        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(threads)
        except RuntimeError:  # TensorFlow already ran an op here: its pools are fixed (set by environment)
            pass
