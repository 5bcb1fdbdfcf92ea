"""A reduced reliability harness: a kill per command, a write fault per command, fuzzed inputs."""

import pytest

from reliability.faults import run_faults
from reliability.fuzz import run_fuzz, totals
from reliability.kills import run_kills

pytestmark = pytest.mark.slow


def test_killed_commands_leave_whole_outputs_and_resume_to_the_same_result(tmp_path):
    report = run_kills(tmp_path, kills=1, seed=7, only=["data-build", "train-one-fold", "eval", "map", "export"])
    for name, case in report.items():
        assert case["kills"] == 1, name
        assert not case["failures"], (name, case["failures"])
        assert case["finished"] == case["equal"] == case["clean"] == 1, (name, case)


def test_a_full_disk_fails_in_one_line_and_writes_nothing_half(tmp_path):
    for name, problems in run_faults(tmp_path).items():
        assert not problems, (name, problems)


def test_fuzzed_inputs_are_accepted_or_refused_in_one_line(tmp_path):
    report = run_fuzz(tmp_path, examples=50, start=11)
    counts = totals(report)
    assert counts["inputs"] == 300
    assert counts["problems"] == 0, {kind: value["problems"] for kind, value in report.items()}
