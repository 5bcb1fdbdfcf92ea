import os

import pytest

from lim_tf.data.manifest import load_manifest
from lim_tf.errors import InputError, WorkerError
from lim_tf.runtime.process import run_in_fresh_process


def test_the_call_runs_in_another_process_and_returns_its_result():
    assert run_in_fresh_process(os.getpid) != os.getpid()
    assert run_in_fresh_process(divmod, 17, 5) == (3, 2)


def test_a_lim_error_in_the_child_is_raised_here_with_its_message(tmp_path):
    with pytest.raises(InputError, match="no manifest.json; build records first"):
        run_in_fresh_process(load_manifest, tmp_path)


def test_a_child_that_dies_without_an_answer_is_a_worker_error():
    with pytest.raises(WorkerError, match="ended with code 3"):
        run_in_fresh_process(os._exit, 3)
