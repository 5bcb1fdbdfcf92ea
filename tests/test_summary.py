"""summary.json: what map writes is what it returned, and a damaged file is refused in one line."""

from __future__ import annotations

import json

import pytest

from lim_tf.errors import InputError
from lim_tf.mapping.summary import RegionSummary, SceneStatus, SceneSummary


def region() -> RegionSummary:
    return RegionSummary([SceneStatus("a", "a.tif", "done", 3, 120.5), SceneStatus("b", "b.tif", "failed", error="x")],
                         failed=1, threshold=0.42, models=["fold0/model.keras"], cluster="in process",
                         batches_computed=7, batches_reused=2, seconds=1.5, runtime="tensorflow",
                         runtime_reason="given", region={"landslides": 3, "total_area_m2": 120.5, "crs": "EPSG:32648"})


def test_summaries_round_trip_through_their_files(tmp_path):
    scene = SceneSummary("s.tif", ["m.keras"], 0.5, 2, 300.0, 200.0, [103.1, 27.2, 103.2, 27.3], tta=4,
                         candidates=4, confidence_cut=0.6, seconds={"predict": 1.25}, run=region())
    scene.save(tmp_path)
    assert SceneSummary.load(tmp_path) == scene
    written = json.loads((tmp_path / "summary.json").read_text())
    # The layout readers of earlier versions rely on: flat scene keys, the run's record under "run".
    assert written["landslides"] == 2 and written["run"]["scenes"][1] == {"name": "b", "path": "b.tif",
                                                                          "status": "failed", "error": "x"}
    assert written["resolution_m"] is None and "check" not in written
    (tmp_path / "r").mkdir()
    region().save(tmp_path / "r")
    assert RegionSummary.load(tmp_path / "r") == region()


@pytest.mark.parametrize("content", ["{not json", "[]", '{"scene": "s.tif"}',
                                     '{"scene": "s", "landslides": 1, "threshold": 0.5, "models": 3, "x": 1}'])
def test_a_damaged_summary_is_refused_naming_it(tmp_path, content):
    (tmp_path / "summary.json").write_text(content)
    with pytest.raises(InputError, match=str(tmp_path / "summary.json")) as error:
        SceneSummary.load(tmp_path)
    assert "\n" not in str(error.value)


def test_a_folder_without_a_summary_is_named(tmp_path):
    with pytest.raises(InputError, match="no summary.json"):
        RegionSummary.load(tmp_path)
