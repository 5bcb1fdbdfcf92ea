"""GDAL virtual paths (/vsicurl/http://...) reach GDAL unchanged, for one scene as for a region:
scenes served over HTTP with range requests by a server process on 127.0.0.1."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin
from test_cli_data import run
from test_mapping import BOXES, squares, threshold_model, write_scene


@pytest.fixture
def served(tmp_path):
    """(folder served, base URL) of a range-capable HTTP server process on 127.0.0.1."""
    folder = tmp_path / "www"
    folder.mkdir()
    server = subprocess.Popen([sys.executable, str(Path(__file__).with_name("range_server.py")), str(folder)],
                              stdout=subprocess.PIPE, text=True)
    try:
        port = int(server.stdout.readline())
        yield folder, f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_a_vsicurl_scene_is_mapped_as_the_local_file_and_reported_by_its_path(served, tmp_path):
    folder, url = served
    band = squares(128, 128, BOXES)
    write_scene(folder / "scene.tif", "EPSG:32648", from_origin(500000, 3000000, 1, 1), band)
    model = threshold_model(tmp_path / "known.keras")
    remote = f"/vsicurl/{url}/scene.tif"
    result = run("map", remote, model, tmp_path / "remote")
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "remote/summary.json").read_text())["scene"] == remote
    with rasterio.open(tmp_path / "remote/landslides.tif") as mapped:
        np.testing.assert_array_equal(mapped.read(1), (band >= 128).astype(np.uint8))
    # A region of two remote scenes keeps both paths whole as well.
    write_scene(folder / "east.tif", "EPSG:32648", from_origin(500128, 3000000, 1, 1), band)
    result = run("map", remote, f"/vsicurl/{url}/east.tif", model, tmp_path / "region")
    assert result.exit_code == 0, result.output
    scenes = json.loads((tmp_path / "region/region/summary.json").read_text())["scenes"]
    assert sorted(s["path"] for s in scenes) == [f"/vsicurl/{url}/east.tif", remote]


def test_a_missing_remote_scene_is_one_line_naming_the_path(served, tmp_path):
    _, url = served
    model = threshold_model(tmp_path / "known.keras")
    result = run("map", f"/vsicurl/{url}/absent.tif", model, tmp_path / "out")
    assert result.exit_code != 0
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and f"/vsicurl/{url}/absent.tif" in lines[0], result.output
    assert not (tmp_path / "out").exists()
