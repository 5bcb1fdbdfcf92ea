"""run.json through RunState: the layout other tools read, round trips, the fold bookkeeping and the
threshold rule, on hand-worked values."""

from __future__ import annotations

import json

import pytest

from lim_tf.errors import InputError
from lim_tf.trained.fold import FoldSummary
from lim_tf.trained.run import RUN_FILE, RunState, resolve_threshold


def _state() -> RunState:
    return RunState(band_names=("red", "green", "blue"), records="/data/records", resolution=1.6, chip_size=None)


def test_the_file_keeps_its_published_layout(tmp_path):
    _state().save(tmp_path)
    data = json.loads((tmp_path / RUN_FILE).read_text())
    assert data["ensemble"] == {"combine": "mean", "models": []}
    assert data["band_names"] == ["red", "green", "blue"] and data["resolution"] == 1.6
    assert data["chip_size"] is None and "zoo" not in data  # nulls kept only where readers expect the key


def test_a_state_round_trips(tmp_path):
    state = _state()
    state.record_fold(1, FoldSummary("done", threshold=0.4))
    state.save(tmp_path)
    assert RunState.load(tmp_path) == state


def test_finished_folds_make_the_ensemble_and_their_mean_threshold():
    state = _state()
    state.record_fold(2, FoldSummary("done", threshold=0.3))
    state.record_fold(0, FoldSummary("done", threshold=0.5))
    state.record_fold(1, FoldSummary("failed", threshold=None))
    assert state.models == ["fold0/model.keras", "fold2/model.keras"]
    assert state.done_folds() == [0, 2]
    assert state.threshold == pytest.approx(0.4) and state.threshold_source == "F1-optimal on validation folds"


def test_a_run_without_validation_thresholds_keeps_its_setting():
    state = _state()
    state.record_fold(0, FoldSummary("done"))
    assert (state.threshold, state.threshold_source) == (0.5, "the run's setting")


def test_the_option_wins_over_the_run():
    state = RunState(band_names=("b",), threshold=0.37, threshold_source="F1-optimal on validation folds")
    assert resolve_threshold(None, state) == (0.37, "F1-optimal on validation folds")
    assert resolve_threshold(0.8, state) == (0.8, "given")


@pytest.mark.parametrize("content, words", [
    ("{not json", "not valid JSON"),
    ('["a list"]', "expected a JSON object"),
    ('{"band_names": [], "records": "r", "threshold": 0.5, "ensemble": {"models": []}, "folds": {}}', "band_names"),
    ('{"band_names": ["r"], "records": "r", "threshold": 1.5, "ensemble": {"models": []}, "folds": {}}', "threshold"),
    ('{"band_names": ["r"], "records": "r", "threshold": 0.5, "ensemble": {"models": [1]}, "folds": {}}', "ensemble"),
    ('{"band_names": ["r"], "threshold": 0.5, "ensemble": {"models": []}, "folds": {}}', "records"),
    ('{"band_names": ["r"], "records": "r", "threshold": 0.5, "turns": 5, "ensemble": {"models": []}, "folds": {}}',
     "turns"),
    ('{"band_names": ["r"], "records": "r", "threshold": 0.5, "turns": 2.0, "ensemble": {"models": []}, "folds": {}}',
     "turns"),
])
def test_a_damaged_file_is_one_line_naming_it(tmp_path, content, words):
    (tmp_path / RUN_FILE).write_text(content)
    with pytest.raises(InputError, match=words) as caught:
        RunState.load(tmp_path)
    assert str(tmp_path / RUN_FILE) in str(caught.value) and "\n" not in str(caught.value)


def test_a_folder_without_a_state_is_not_a_run(tmp_path):
    with pytest.raises(InputError, match="not a training run"):
        RunState.load(tmp_path)


def test_the_memory_estimate_sums_the_members_weights_and_keeps_the_largest_layer():
    state = _state()
    state.record_fold(0, FoldSummary("done", inference={"weight_bytes": 100.0, "peak_bytes_per_pixel": 8.0}))
    state.record_fold(1, FoldSummary("done", inference={"weight_bytes": 100.0, "peak_bytes_per_pixel": 12.0}))
    assert state.inference_estimate() == {"weight_bytes": 200.0, "peak_bytes_per_pixel": 12.0}
    assert state.inference_estimate(0) == {"weight_bytes": 100.0, "peak_bytes_per_pixel": 8.0}
    state.record_fold(2, FoldSummary("done"))  # trained before estimates were saved: the client loads the model
    assert state.inference_estimate() is None


def test_a_fold_without_a_validation_threshold_leaves_the_run_its_own():
    state = _state()
    state.threshold = 0.5
    state.record_fold(0, FoldSummary("done", threshold=None))  # validation saw no landslide at any threshold
    assert (state.threshold, state.threshold_source) == (0.5, "the run's setting")


def test_thresholds_read_as_people_write_them(tmp_path):
    import numpy as np

    assert float(np.float32(0.42)) == 0.41999998688697815  # what a float32 sweep hands over
    state = RunState(band_names=("red",), threshold=float(np.float32(0.42)))
    assert state.threshold == 0.42
    state.record_fold(0, FoldSummary("done", threshold=float(np.float32(0.41))))
    state.record_fold(1, FoldSummary("done", threshold=float(np.float32(0.44))))
    state.save(tmp_path)
    assert json.loads((tmp_path / RUN_FILE).read_text())["threshold"] == 0.425


def test_a_missing_run_folder_is_called_missing(tmp_path):
    with pytest.raises(InputError, match="nowhere: no such file or folder"):
        RunState.load(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="not a training run"):
        RunState.load(tmp_path / "empty")
