"""A reduced reliability harness (`make reliability` runs the full one): kills, full disks, fuzzing."""

import pytest

from reliability.cluster import run_worker_loss
from reliability.faults import run_disk_faults, run_faults
from reliability.fuzz import run_fuzz, totals
from reliability.kills import prepare, run_kills

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    return prepare(tmp_path_factory.mktemp("reliability"))


def test_killed_commands_leave_whole_outputs_and_finish_to_the_same_result(inputs):
    work = inputs["records"].parent  # the full-disk test below reuses the references made here
    report = run_kills(work, kills=1, seed=7, only=["data-build", "eval", "map"], inputs=inputs, keep_references=True)
    assert set(report) == {"data-build", "eval", "map"}
    for name, case in report.items():
        assert case["kills"] == case["whole_or_absent"] == case["old_kept_or_new_whole"] == 1, (name, case)
        assert case["finished"] == case["equal"] == case["clean"] == 1, (name, case)


def test_a_full_disk_fails_in_one_line_and_writes_nothing_half(inputs):
    report = run_faults(inputs["records"].parent, only=["data-build", "train-one-fold", "map"], inputs=inputs)
    assert set(report) == {"data-build", "train-one-fold", "map"}
    for name, problems in report.items():
        assert not problems, (name, problems)


def test_small_file_systems_full_of_bytes_or_inodes_fail_in_one_line(inputs):
    """OUT on a tmpfs too small for it, in bytes or in inodes: whole, or one line and nothing left."""
    report = run_disk_faults(inputs["records"].parent, per_case=2, only=["data-build", "map", "map-region"],
                             inputs=inputs)
    if "skipped" in report:
        pytest.skip(report["skipped"])
    assert report == {"data-build": [], "map": [], "map-region": []}


def test_a_worker_lost_as_the_run_tears_down_changes_nothing(inputs):
    # set-up and mid-run losses: tests/test_region.py; make reliability runs every moment
    report = run_worker_loss(inputs["records"].parent, per_moment=1, inputs=inputs, moments=("tear-down",))
    assert report["tear-down"]["killed"] == 1, report
    assert report["tear-down"]["finished"] == report["tear-down"]["equal"] == 1, report


def test_fuzzed_inputs_are_accepted_or_refused_in_one_line(tmp_path):
    report = run_fuzz(tmp_path, examples=6, start=11)  # 6 per input kind here; make reliability runs hundreds
    counts = totals(report)
    assert counts["inputs"] == 54
    assert counts["problems"] == 0, {kind: value["problems"] for kind, value in report.items()}
