"""ONNX Runtime as the mapping network: the same members, turns and spread as TensorFlow computes,
`map --runtime onnx` writes the map `map` writes with TensorFlow, and the int8 graph is quantised
and stays near it."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import rasterio
from helpers import assert_near_float32, run
from rasterio.transform import from_origin

from lim_tf.models import ModelConfig, build_model
from lim_tf.testing import write_rgb_scene as write_scene
from lim_tf.trained.ensemble import Ensemble
from lim_tf.trained.onnx_model import OnnxEnsemble, convert, quantise


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


def test_members_turns_and_spread_equal_tensorflows(pair):
    ensemble, onnx = pair
    images = np.random.default_rng(0).uniform(0, 255, (2, 40, 56, 3)).astype(np.float32)  # not square
    members, spread = ensemble.predict_with_uncertainty(images)
    onnx_members, onnx_spread = onnx.predict_with_uncertainty(images)
    assert onnx_members.shape == (2, 2, 40, 56) and onnx_spread.shape == (2, 40, 56)
    np.testing.assert_allclose(onnx_members, members, atol=1e-5)
    np.testing.assert_allclose(onnx_spread, spread, atol=1e-5)
    assert spread.max() > 1e-3  # the turns differ: a spread of zeros would prove nothing
    for turns in (2, 3):
        tta = dataclasses.replace(ensemble, turns=turns, uncertainty=False)
        np.testing.assert_allclose(OnnxEnsemble(tta, onnx.session).predict_members(images),
                                   tta.predict_members(images), atol=1e-5)


def test_the_int8_graph_is_quantised_and_predicts_near_float32(pair):
    ensemble, _ = pair
    rng = np.random.default_rng(1)
    chips = [rng.uniform(0, 255, (64, 64, 3)).astype(np.float32) for _ in range(4)]
    proto = quantise(convert(ensemble, members=True), chips)
    operators = {node.op_type for node in proto.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= operators
    int8_weights = [t for t in proto.graph.initializer if t.data_type == 3]  # onnx.TensorProto.INT8
    assert sum(np.prod(t.dims) for t in int8_weights) > 0.9 * sum(m.count_params() for m in ensemble.models)
    from lim_tf.trained.onnx_model import onnx_session

    images = rng.uniform(0, 255, (1, 64, 64, 3)).astype(np.float32)
    assert_near_float32(OnnxEnsemble(ensemble, onnx_session(proto)).predict_members(images),
                        ensemble.predict_members(images))
    with pytest.raises(ValueError, match="calibration chip"):
        quantise(convert(ensemble, members=True), [])


def test_map_with_onnx_runtimes_writes_tensorflows_map(tmp_path):
    rng = np.random.default_rng(5)
    scene = write_scene(tmp_path / "scene.tif", "EPSG:32648", from_origin(500000, 3000000, 1, 1),
                        rng.integers(0, 256, (96, 80)).astype(np.uint8))
    import keras

    keras.utils.set_random_seed(1)  # a fixed net, normalised as trained ones are: int8's error is then stable
    build_model(ModelConfig(name="unet", width=1 / 16, mean=(100.0,) * 3, std=(40.0,) * 3)).save(tmp_path / "unet.keras")
    outputs = {}
    for runtime in ("tensorflow", "onnx", "onnx-int8"):
        result = run("map", scene, tmp_path / "unet.keras", tmp_path / runtime, "--runtime", runtime, "--tile", "64",
                     "--overlap", "8", "--threshold", "0.5")
        assert result.exit_code == 0, result.output
        with rasterio.open(tmp_path / runtime / "probability.tif") as src:
            outputs[runtime] = src.read(1)
        assert json.loads((tmp_path / runtime / "summary.json").read_text())["runtime"] == runtime
    np.testing.assert_allclose(outputs["onnx"], outputs["tensorflow"], atol=1e-4)  # as export checks
    assert_near_float32(outputs["onnx-int8"], outputs["tensorflow"])
