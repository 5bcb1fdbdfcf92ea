"""Set-up of a Dask worker process for lim-tf tasks (imported only when a cluster is used)."""

from __future__ import annotations

from typing import Any

from distributed import WorkerPlugin


class QuietTensorFlow(WorkerPlugin):
    """Imports TensorFlow without its native start-up lines when a worker starts, before any task
    is unpickled (which would import it loudly); `verbose` keeps them, as -vv does for the CLI."""

    name = "lim-tf-quiet-tensorflow"

    def __init__(self, verbose: bool = False) -> None:
        self.verbose = verbose

    def setup(self, worker: Any) -> None:
        if not self.verbose:
            from lim_tf.runtime import import_tensorflow_quietly

            import_tensorflow_quietly()
