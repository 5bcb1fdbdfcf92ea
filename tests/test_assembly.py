"""mapping/assembly.py: a scene's outputs built from its tile files, whole when the last tile is in,
and nothing left behind when the scene is abandoned."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from lim_tf.mapping.assembly import SceneAssembly
from lim_tf.mapping.config import MapConfig, PredictConfig
from lim_tf.mapping.predict import plan_batches
from lim_tf.mapping.scene import SceneSpec
from lim_tf.mapping.scene_map import Mapping
from lim_tf.mapping.tiles import SceneJob, run_batches
from lim_tf.testing import BOXES, squares, threshold_model
from lim_tf.testing import write_rgb_scene as write_scene


@pytest.fixture
def tiled(tmp_path: Path):
    """A scene of four bright squares, a model that flags band 1 >= 128, and its tiles predicted to files."""
    band = squares(101, 117, BOXES)
    scene = write_scene(tmp_path / "scene.tif", "EPSG:32648", from_origin(500_000, 3_000_000, 2, 2), band)
    model = threshold_model(tmp_path / "model.keras")
    config = MapConfig(predict=PredictConfig(tile=64, margin=0))
    (tmp_path / "tiles").mkdir()
    job = SceneJob(SceneSpec(str(scene)), str(model), None, 1, False, 0.5, str(tmp_path / "tiles"))
    batches = plan_batches((101, 117), config.predict)
    assert run_batches(job, batches) == 101 * 117
    return job, batches, config, Mapping(0.5, None, ["model"], 3), band


def test_the_assembled_scene_is_the_model_s_map_with_its_inventory(tiled, tmp_path: Path) -> None:
    job, batches, config, mapping, band = tiled
    (tmp_path / "staging").mkdir()
    assembly = SceneAssembly(job, "scene", tmp_path / "staging", False, config, mapping)
    for batch in reversed(batches):  # tiles arrive in any order
        assembly.add(batch)
    summary = assembly.finish()
    folder = tmp_path / "staging" / "scene"
    with rasterio.open(folder / "landslides.tif") as src:
        assert np.array_equal(src.read(1), (band >= 128).astype(np.uint8))
    assert summary.landslides == len(BOXES)
    assert {"probability.tif", "landslides.tif", "inventory.gpkg", "summary.json"} <= {p.name for p in folder.iterdir()}


def test_an_abandoned_scene_leaves_nothing(tiled, tmp_path: Path) -> None:
    job, batches, config, mapping, _ = tiled
    (tmp_path / "staging").mkdir()
    assembly = SceneAssembly(job, "scene", tmp_path / "staging", False, config, mapping)
    assembly.add(batches[0])
    assembly.abandon()
    assert list((tmp_path / "staging").iterdir()) == []
