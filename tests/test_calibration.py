"""mapping/calibration.py: the int8 network's calibration windows come from all over the scene,
from valid data, the same on every call."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from rasterio.transform import from_origin

from lim_tf.errors import InputError
from lim_tf.mapping.calibration import calibration_chips
from lim_tf.mapping.scene import SceneSpec, open_scene
from lim_tf.testing import write_raster

TRANSFORM = from_origin(500_000, 3_000_000, 1, 1)


def _scene(path: Path, band: np.ndarray):
    """Three equal bands, 0 as nodata."""
    return open_scene(SceneSpec(str(write_raster(path, np.stack([band] * 3), crs="EPSG:32648", transform=TRANSFORM,
                                                 nodata=0))), 3)


def test_chips_come_from_every_part_of_the_valid_ground(tmp_path: Path) -> None:
    band = np.repeat(np.arange(1, 5, dtype=np.uint8) * 50, 150)[:, None].repeat(500, axis=1)  # 4 row blocks
    band[:, :250] = 0  # the left half is nodata
    scene = _scene(tmp_path / "s.tif", band)
    chips = calibration_chips(scene, count=8, side=64)
    again = calibration_chips(scene, count=8, side=64)
    scene.close()
    assert len(chips) == 8 and all(c.shape == (64, 64, 3) for c in chips)
    assert all(np.array_equal(a, b) for a, b in zip(chips, again))
    assert all((c[..., 0] > 0).mean() >= 0.5 for c in chips)  # at least half valid
    blocks = {int(v) for c in chips for v in np.unique(c[..., 0]) if v > 0}
    assert len(blocks) >= 3  # not just the first rows


def test_a_scene_smaller_than_a_chip_gives_itself_padded(tmp_path: Path) -> None:
    band = np.random.default_rng(0).integers(1, 256, (40, 50)).astype(np.uint8)
    scene = _scene(tmp_path / "s.tif", band)
    [chip] = calibration_chips(scene, count=4, side=64)
    scene.close()
    assert chip.shape == (64, 64, 3)
    assert np.array_equal(chip[:40, :50, 0], band) and not chip[40:].any() and not chip[:, 50:].any()


def test_a_scene_without_valid_data_names_the_way_out(tmp_path: Path) -> None:
    scene = _scene(tmp_path / "empty.tif", np.zeros((80, 80), np.uint8))
    with pytest.raises(InputError, match=r"empty\.tif.*--runtime onnx"):
        calibration_chips(scene, count=2, side=32)
    scene.close()
