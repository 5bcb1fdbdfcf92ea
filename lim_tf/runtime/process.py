"""Process set-up: log format, a quiet TensorFlow import, and running work in a fresh process."""

from __future__ import annotations

import contextlib
import logging
import os
import pickle
import resource
import signal
import subprocess
import sys
import tempfile
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from lim_tf.errors import LimError, WorkerError, out_of_space

LOG_FORMAT = "%(levelname)s %(name)s: %(message)s"
T = TypeVar("T")


def configure(level: int) -> None:
    """Log to stderr at `level`, and set the process up for the libraries a command may load later:
    TensorFlow's start-up chatter hidden unless debugging, GDAL's CA bundle. Nothing heavy is
    imported here: commands that run no network never load TensorFlow (lim_tf.runtime.quiet does,
    quietly, for those that do)."""
    logging.basicConfig(level=level, format=LOG_FORMAT, stream=sys.stderr)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    # rasterio sets GDAL_CURL_CA_BUNDLE to certifi's bundle when it is imported, and GDAL prefers it to
    # CURL_CA_BUNDLE, so the variable rasterio's and curl's documents name would be ignored for /vsicurl/.
    if os.environ.get("CURL_CA_BUNDLE") and "GDAL_CURL_CA_BUNDLE" not in os.environ:
        os.environ["GDAL_CURL_CA_BUNDLE"] = os.environ["CURL_CA_BUNDLE"]
    if level <= logging.DEBUG:
        os.environ["LIM_TF_NATIVE_STDERR"] = "1"
    else:
        # GDAL prints the errors that no call of rasterio's catches (a write failing as a file is
        # closed); lim-tf checks for those itself, so they reappear only with -vv.
        os.environ.setdefault("CPL_LOG", os.devnull)
        # TensorFlow's own Python warnings (retracing heuristics, deprecations) are for developers.
        logging.getLogger("tensorflow").setLevel(max(level, logging.ERROR))


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
    """File descriptor 2 sent to /dev/null for a moment: native libraries (TensorFlow's start-up,
    libtiff's write errors) print there below any log level. Only for short steps that draw no
    progress bar, and whose failures lim-tf detects itself; -vv keeps them (LIM_TF_NATIVE_STDERR)."""
    if os.environ.get("LIM_TF_NATIVE_STDERR") == "1":
        yield
        return
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def import_tensorflow_quietly() -> Any:
    """Import TensorFlow without its native start-up lines (oneDNN, CUDA probing), which are
    printed before any log level applies; returns the module.

    GDAL (rasterio) is loaded first: TensorFlow brings a libcurl of its own whose symbols, loaded
    first, would serve GDAL's /vsicurl/ calls ("GDAL was built against curl 8.16.0, but is running
    against 8.11.0", TLS errors reported as "HTTP response code: 0"); bound first, GDAL keeps its own."""
    import rasterio  # noqa: F401 - before TensorFlow, see above

    with native_stderr_silenced():
        import tensorflow

        tensorflow.config.list_physical_devices()  # device probing prints too
    return tensorflow


def peak_memory_mb() -> float:
    """This process's peak resident memory so far, in MB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_in_fresh_process(function: Callable[..., T], *args: Any) -> T:
    """Call `function(*args)` in a new Python process and return its result or raise its error.

    TensorFlow and Keras keep memory that clear_session() does not free (about 60 MB per model
    on this stack); a process that ends gives all of it back. `function` must be importable and
    its arguments, result and errors picklable. The child is started with -c rather than by
    multiprocessing, so a caller's script needs no `if __name__ == "__main__"` guard.
    """
    level = logging.getLogger().getEffectiveLevel()
    with tempfile.TemporaryDirectory(prefix="lim-tf-") as folder:
        job, answer = Path(folder) / "job.pickle", Path(folder) / "answer.pickle"
        job.write_bytes(pickle.dumps((function, args)))
        command = f"from lim_tf.runtime.process import serve; serve({str(job)!r}, {str(answer)!r}, {level})"
        # The child finds modules where this process does (a script may have extended sys.path).
        environment = {**os.environ, "PYTHONPATH": os.pathsep.join(path for path in sys.path if path)}
        code = subprocess.call([sys.executable, "-c", command], env=environment, preexec_fn=_die_with_parent)
        if not answer.exists():
            raise WorkerError(f"its process ended with code {code} before it finished (killed for memory?); "
                              "lower --batch-size or free memory")
        succeeded, value = pickle.loads(answer.read_bytes())
    if succeeded:
        return value
    raise value


def _die_with_parent() -> None:
    """In the child, before it runs: ask Linux to kill it when its parent dies, so a killed run
    leaves no fold training on in the background (elsewhere a no-op)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def serve(job: str, answer: str, level: int) -> None:
    """The child's side of run_in_fresh_process: run the pickled call, pickle the outcome."""
    configure(level)
    function, args = pickle.loads(Path(job).read_bytes())
    try:
        outcome = (True, function(*args))
    except Exception as error:  # noqa: BLE001 - handed to the parent, which raises it
        if not isinstance(error, LimError) and out_of_space(error) is None:
            traceback.print_exc()  # a bug keeps its traceback; a full disk is reported by the parent
        outcome = (False, error)
    try:
        data = pickle.dumps(outcome)
    except Exception:  # noqa: BLE001 - an error type that cannot be pickled still reaches the parent
        data = pickle.dumps((False, RuntimeError(f"{type(outcome[1]).__name__}: {outcome[1]}")))
    Path(answer).write_bytes(data)
