"""ONNX export: ONNX Runtime equals the Keras ensemble on real chips, and the file carries the metadata
the Deepness QGIS plugin reads."""

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import pytest
from conftest import SHARED, shared_path
from helpers import assert_one_line_error, run
from PIL import Image

from lim_tf.models.precision import as_float32
from lim_tf.trained.ensemble import load_run

DEEPNESS_KEYS = ("model_type", "class_names", "resolution", "tile_size", "tiles_size", "tiles_overlap", "seg_thresh",
                 "standardization_mean", "standardization_std")


TILE = 96  # the exported input's side: small, to stay quick


def real_chips(count: int = 3) -> list[np.ndarray]:
    """A few real Bijie chips (RGB), cut (or edge-padded) to the exported tile of 96 px."""
    folder = shared_path("bijie") / "landslide" / "image"
    chips = [np.asarray(Image.open(path).convert("RGB"))[:TILE, :TILE] for path in sorted(folder.glob("*.png"))[:count]]
    return [np.pad(c, ((0, TILE - c.shape[0]), (0, TILE - c.shape[1]), (0, 0)), "edge").astype(np.float32)
            for c in chips]


@pytest.fixture(scope="module")
def exported(trained, tmp_path_factory):
    """The tiny run exported to ONNX once, through the CLI (the tests only read it)."""
    _, _, run_folder = trained
    folder = tmp_path_factory.mktemp("onnx")
    result = run("export", run_folder, folder, "--format", "onnx", "--name", "lim", "--tile-size", str(TILE))
    assert result.exit_code == 0, result.output
    return folder / "lim.onnx"


def test_onnx_runtime_equals_the_keras_ensemble_on_real_chips(trained, exported):
    _, _, run_folder = trained
    path = exported
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].shape[1:] == [3, TILE, TILE]  # fixed and square, as Deepness needs
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
    assert props["tile_size"] == props["tiles_size"] == TILE  # its code reads the first, its docs name the second
    # An existing file is refused and kept.
    before = exported.read_bytes()
    assert_one_line_error(run("export", run_folder, exported.parent, "--format", "onnx", "--name", "lim"),
                          "already exists")
    assert exported.read_bytes() == before


# QGIS's Python with the Deepness plugin's requirements (numpy < 2, onnxruntime <= 1.17, OpenCV): .ci/run
# makes it as .venv-qgis beside .venv (python3 -m venv --system-site-packages, which sees QGIS's packages).
QGIS_VENV = Path(__file__).resolve().parents[1] / ".venv-qgis" / "bin" / "python"
DEEPNESS = SHARED.parent / "clients" / "deepness" / "src"


def _deepness_python() -> Path:
    if not (SHARED.parent / "clients" / "deepness").is_dir():
        shared_path("../clients/deepness")  # skipped, or failed where ../shared is required
    if not QGIS_VENV.exists():
        pytest.skip(f"{QGIS_VENV} is missing: QGIS with Deepness's requirements is set up by .ci/run")
    return QGIS_VENV


def test_deepness_loads_the_file_with_its_own_code_and_predicts_as_lim_tf(trained, exported, tmp_path):
    """What an analyst's click in QGIS does, with the plugin's own dock widget: the model loads without
    an error, its parameters fill in from the metadata, and its Segmentor predicts what lim-tf does."""
    _, _, run_folder = trained
    python = _deepness_python()
    tile = real_chips(1)[0].astype(np.uint8)
    np.save(tmp_path / "tile.npy", tile)
    environment = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": str(tmp_path),
                   "PYTHONPATH": str(DEEPNESS)}
    done = subprocess.run([str(python), str(Path(__file__).with_name("clients") / "deepness_load.py"), str(exported),
                           str(tmp_path / "tile.npy")], capture_output=True, text=True, env=environment, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    state = json.loads((run_folder / "run.json").read_text())
    assert "error" not in report, report
    assert report["tile_size"] == TILE and report["model_type"] == "Segmentor"
    assert report["threshold_enabled"] and abs(report["threshold"] - state["threshold"]) < 0.01
    assert report["resolution_cm"] == round(state["resolution"] * 100, 2)
    ensemble, _ = load_run(run_folder)
    expected = np.mean([as_float32(m).predict_on_batch(tile[None].astype(np.float32))[0, ..., 0]
                        for m in ensemble.models], axis=0)
    np.testing.assert_allclose(np.load(report["prediction"]).squeeze(), expected, atol=1e-4)
