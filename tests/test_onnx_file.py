"""ONNX export: ONNX Runtime equals the Keras ensemble on real chips, and the file carries the metadata
the Deepness QGIS plugin reads."""

import json

import numpy as np
import onnx
import onnxruntime
import pytest
from conftest import shared_path
from PIL import Image
from test_cli_data import assert_one_line_error, run

from lim_tf.ensemble import load_run
from lim_tf.models.precision import as_float32

DEEPNESS_KEYS = ("model_type", "class_names", "resolution", "tiles_size", "tiles_overlap", "seg_thresh",
                 "standardization_mean", "standardization_std")


def real_chips(count: int = 3) -> list[np.ndarray]:
    """A few real Bijie chips (RGB, odd sizes), cropped to at most 96 px to stay quick."""
    folder = shared_path("bijie") / "landslide" / "image"
    return [np.asarray(Image.open(path).convert("RGB"))[:96, :96].astype(np.float32)
            for path in sorted(folder.glob("*.png"))[:count]]


@pytest.fixture(scope="module")
def exported(trained, tmp_path_factory):
    """The tiny run exported to ONNX once, through the CLI (the tests only read it)."""
    _, _, run_folder = trained
    folder = tmp_path_factory.mktemp("onnx")
    result = run("export", run_folder, folder, "--format", "onnx", "--name", "lim")
    assert result.exit_code == 0, result.output
    return folder / "lim.onnx"


def test_onnx_runtime_equals_the_keras_ensemble_on_real_chips(trained, exported):
    _, _, run_folder = trained
    path = exported
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["image"] and [o.name for o in session.get_outputs()] == [
        "probability"]
    ensemble, _ = load_run(run_folder)
    for chip in real_chips():
        expected = np.mean([as_float32(m).predict_on_batch(chip[None])[0, ..., 0] for m in ensemble.models], axis=0)
        answer = session.run(None, {"image": np.transpose(chip[None], (0, 3, 1, 2)) / 255.0})[0]
        assert answer.shape == (1, 1, *chip.shape[:2])
        np.testing.assert_allclose(answer[0, 0], expected, atol=1e-4)


def test_the_onnx_file_carries_deepness_and_lim_tf_metadata(trained, exported):
    _, _, run_folder = trained
    props = {p.key: json.loads(p.value) for p in onnx.load(str(exported)).metadata_props}
    state = json.loads((run_folder / "run.json").read_text())
    assert set(DEEPNESS_KEYS) <= set(props)
    assert props["model_type"] == "Segmentor" and props["class_names"] == {"0": "landslide"}
    assert props["seg_thresh"] == state["threshold"] and props["lim_tf_bands"] == state["band_names"]
    assert props["standardization_mean"] == [0.0, 0.0, 0.0] and props["standardization_std"] == [1.0, 1.0, 1.0]
    assert props["resolution"] == round(state["resolution"] * 100, 3)  # Deepness wants centimetres per pixel
    # An existing file is refused and kept.
    before = exported.read_bytes()
    assert_one_line_error(run("export", run_folder, exported.parent, "--format", "onnx", "--name", "lim"),
                          "already exists")
    assert exported.read_bytes() == before
