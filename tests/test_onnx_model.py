"""ONNX Runtime as the mapping network: the same members, flips and spread as TensorFlow computes,
and `map --runtime onnx` writes the map `map` writes with TensorFlow."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin
from test_cli_data import run
from test_mapping import write_scene

from lim_tf.ensemble import Ensemble
from lim_tf.models import ModelConfig, build_model
from lim_tf.onnx_model import OnnxEnsemble


@pytest.fixture(scope="module")
def pair():
    """(TensorFlow ensemble, its ONNX twin) of two different tiny U-Nets, with uncertainty."""
    models = []
    for seed in (1, 2):
        import keras

        keras.utils.set_random_seed(seed)
        models.append(build_model(ModelConfig(name="unet", width=1 / 16, mean=(100.0,) * 3, std=(40.0,) * 3)))
    ensemble = Ensemble(models, ["a", "b"], uncertainty=True)
    return ensemble, OnnxEnsemble.of(ensemble)


def test_members_flips_and_spread_equal_tensorflows(pair):
    ensemble, onnx = pair
    images = np.random.default_rng(0).uniform(0, 255, (2, 40, 56, 3)).astype(np.float32)  # not square
    members, spread = ensemble.predict_with_uncertainty(images)
    onnx_members, onnx_spread = onnx.predict_with_uncertainty(images)
    assert onnx_members.shape == (2, 2, 40, 56) and onnx_spread.shape == (2, 40, 56)
    np.testing.assert_allclose(onnx_members, members, atol=1e-5)
    np.testing.assert_allclose(onnx_spread, spread, atol=1e-5)
    assert spread.max() > 1e-3  # the flips differ: a spread of zeros would prove nothing
    tta = dataclasses.replace(ensemble, tta=True, uncertainty=False)
    np.testing.assert_allclose(OnnxEnsemble(tta, onnx.session).predict_members(images), tta.predict_members(images),
                               atol=1e-5)


def test_map_with_onnx_runtime_writes_tensorflows_map(tmp_path):
    rng = np.random.default_rng(5)
    scene = write_scene(tmp_path / "scene.tif", "EPSG:32648", from_origin(500000, 3000000, 1, 1),
                        rng.integers(0, 256, (96, 80)).astype(np.uint8))
    build_model(ModelConfig(name="unet", width=1 / 16)).save(tmp_path / "unet.keras")
    outputs = {}
    for runtime in ("tensorflow", "onnx"):
        result = run("map", scene, tmp_path / "unet.keras", tmp_path / runtime, "--runtime", runtime, "--tile", "64",
                     "--overlap", "8", "--threshold", "0.5")
        assert result.exit_code == 0, result.output
        with rasterio.open(tmp_path / runtime / "probability.tif") as src:
            outputs[runtime] = src.read(1)
        assert json.loads((tmp_path / runtime / "summary.json").read_text())["runtime"] == runtime
    np.testing.assert_allclose(outputs["onnx"], outputs["tensorflow"], atol=1e-4)  # as export checks
