"""Where work runs: in this process, or on Dask distributed (a local cluster or a running scheduler).

lim-tf never schedules processes itself: Dask places the tasks, moves them off a worker that
dies, and reports each outcome; this module only chooses the engine and hands tasks to it.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from lim_tf.errors import ConfigError, WorkerError

log = logging.getLogger(__name__)
# Each worker runs one task at a time with one TensorFlow thread per Dask thread, so N workers use
# N cores without oversubscribing them; the native log lines stay quiet.
WORKER_ENVIRONMENT = {"TF_NUM_INTRAOP_THREADS": "1", "TF_NUM_INTEROP_THREADS": "1", "TF_CPP_MIN_LOG_LEVEL": "3",
                      "OMP_NUM_THREADS": "1"}
Outcome = tuple[Any, Any, BaseException | None]  # (task, result, error)


def parse_cluster(spec: str | None) -> tuple[str, Any] | None:
    """None (in process), ('local', workers) or ('address', 'tcp://host:port')."""
    if spec is None or spec.strip().lower() in ("", "none"):
        return None
    spec = spec.strip()
    name, _, count = spec.partition(":")
    if name.lower() == "local":  # "localhost:8786" is a scheduler's address, never a count of workers
        try:
            workers = int(count) if count else os.cpu_count() or 1
        except ValueError as error:
            raise ConfigError(f"--cluster {spec!r}: write local:N with N worker processes, e.g. local:2") from error
        if not 1 <= workers <= 4 * (os.cpu_count() or 1):
            raise ConfigError(f"--cluster {spec!r}: a local cluster takes 1 to {4 * (os.cpu_count() or 1)} workers "
                              f"here ({os.cpu_count()} cores)")
        return "local", workers
    if "://" in spec or ":" in spec:
        return "address", spec if "://" in spec else f"tcp://{spec}"
    raise ConfigError(f"--cluster {spec!r}: give local:N or a scheduler address such as tcp://host:8786")


class InProcess:
    """Runs tasks one after another here: the default, no cluster needed."""

    description = "in process"

    def keep(self, function: Callable, tasks: Sequence[tuple], bar: Any = None) -> list[Any]:
        """Results kept where they were made: here, the results themselves, as apply gives them."""
        return self.apply(function, tasks, bar)

    def apply(self, function: Callable, tasks: Sequence[tuple], bar: Any = None) -> list[Any]:
        """Results brought here, in task order; errors raise."""
        results = []
        for task in tasks:
            results.append(function(*task))
            if bar is not None:
                bar.update(1)
        return results

    def run(self, function: Callable, tasks: Sequence[tuple]) -> Iterator[Outcome]:
        for task in tasks:
            try:
                yield task, function(*task), None
            except Exception as error:  # noqa: BLE001 - the caller decides per scene
                yield task, None, error


class DaskExecutor:
    """Submits tasks to a Dask client and yields them as they finish, in any order."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.description = f"Dask at {client.scheduler.address} (dashboard {client.dashboard_link})"

    def keep(self, function: Callable, tasks: Sequence[tuple], bar: Any = None) -> list[Any]:
        """Futures of results that stay on the workers that made them; `bar` counts them as they finish."""
        futures = [self.client.submit(function, *task, pure=False) for task in tasks]
        if bar is not None:
            for future in futures:
                future.add_done_callback(lambda _: bar.update(1))
        return futures

    def apply(self, function: Callable, tasks: Sequence[tuple], bar: Any = None) -> list[Any]:
        """Results brought here, in task order (futures in a task are resolved on the worker); errors raise."""
        from distributed import as_completed

        futures = [self.client.submit(function, *task, pure=False) for task in tasks]
        for future in as_completed(futures):
            future.result()  # the first error raises here, as it would in process
            if bar is not None:
                bar.update(1)
        return self.client.gather(futures)

    def run(self, function: Callable, tasks: Sequence[tuple]) -> Iterator[Outcome]:
        from distributed import as_completed

        # pure=False: a task whose worker died is run again, never taken from a cache of results.
        futures = {self.client.submit(function, *task, pure=False): task for task in tasks}
        for future in as_completed(futures):
            task = futures[future]
            try:
                yield task, future.result(), None
            except Exception as error:  # noqa: BLE001 - includes KilledWorker after repeated deaths
                yield task, None, error
            finally:
                future.release()


@contextlib.contextmanager
def executor(spec: str | None) -> Iterator[InProcess | DaskExecutor]:
    """The executor for --cluster: none, local:N (started here and stopped after) or an address."""
    parsed = parse_cluster(spec)
    if parsed is None:
        yield InProcess()
        return
    from distributed import Client, LocalCluster

    from lim_tf.runtime.worker import WorkerSetup

    kind, value = parsed
    # Dask logs its own start and stop at INFO; show them only when lim-tf is asked for as much (-v).
    level = logging.getLogger().getEffectiveLevel()
    quiet = max(level, logging.WARNING)
    for name in ("distributed", "distributed.scheduler", "distributed.nanny", "distributed.worker",
                 "distributed.core", "distributed.http.proxy"):
        logging.getLogger(name).setLevel(quiet)
    if kind == "local":
        cluster = LocalCluster(n_workers=value, threads_per_worker=1, processes=True, host="127.0.0.1",
                               dashboard_address=":0", env=WORKER_ENVIRONMENT, silence_logs=quiet)
        with cluster, Client(cluster) as client:
            register_setup(client, WorkerSetup(level <= logging.DEBUG))
            yield DaskExecutor(client)
        return
    try:
        client = Client(value, timeout="20s")
    except OSError as error:
        raise ConfigError(f"--cluster {value}: no Dask scheduler answers there ({error}); start one with "
                          "'dask scheduler' or check the address") from error
    with client:
        register_setup(client, WorkerSetup(level <= logging.DEBUG))
        yield DaskExecutor(client)


SETUP_ATTEMPTS = 3


def register_setup(client: Any, plugin: Any) -> None:
    """Register the workers' set-up, surviving a worker lost meanwhile: the scheduler keeps the plugin
    for every worker that joins (a nanny's replacement too) before it sends it to the running ones,
    so a send that fails because one of them died is tried again on the survivors, not fatal."""
    for attempt in range(1, SETUP_ATTEMPTS + 1):
        try:
            client.register_plugin(plugin)
            return
        except OSError as error:  # distributed's CommClosedError is one
            if attempt == SETUP_ATTEMPTS:
                raise WorkerError(f"Dask workers kept failing while being set up ({type(error).__name__}: "
                                  f"{str(error)[:120]}); check the workers' logs") from error
            log.warning("a Dask worker was lost while being set up (%s); trying again on the others",
                        type(error).__name__)
