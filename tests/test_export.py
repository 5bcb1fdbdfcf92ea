"""Export for TF Serving: round trips, signatures, metadata, versions and the REST client."""

import base64
import hashlib
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
from helpers import assert_one_line_error, run
from PIL import Image

from lim_tf.errors import InputError, OutputError
from lim_tf.export.savedmodel import export_run, read_metadata
from lim_tf.models import load_model
from lim_tf.serving import ServingClient

pytestmark = pytest.mark.slow


def keras_mean(run_dir, names, images):
    return np.mean([np.asarray(load_model(run_dir / n)(images))[..., 0] for n in names], axis=0)


def serve_rest(loaded, body):
    """What TF Serving's REST API does with a row-format body, done in-process."""
    signature = loaded.signatures[body["signature_name"]]
    (name, spec), = signature.structured_input_signature[1].items()
    instances = body["instances"]
    if isinstance(instances[0], dict) and "b64" in instances[0]:
        value = tf.constant([base64.b64decode(i["b64"]) for i in instances])
    else:
        value = tf.constant(np.asarray(instances), dtype=spec.dtype)
    outputs = {k: v.numpy() for k, v in signature(**{name: value}).items()}
    return {"predictions": [{k: v[i].tolist() for k, v in outputs.items()} for i in range(len(instances))]}


@pytest.fixture(scope="module")
def ensemble_export(trained, tmp_path_factory):
    """The tiny run's ensemble exported once, with its metadata, loaded (the tests only read it)."""
    _, _, run_dir = trained
    metadata = export_run(run_dir, tmp_path_factory.mktemp("serving"))
    return metadata, tf.saved_model.load(metadata["path"])


@pytest.mark.parametrize("fold", [None, 1])
def test_round_trip_for_one_model_and_for_the_ensemble(trained, ensemble_export, tmp_path, fold):
    _, _, run_dir = trained
    metadata = export_run(run_dir, tmp_path / "serving", fold=fold) if fold is not None else ensemble_export[0]
    assert metadata["max_abs_difference"] < 1e-3
    loaded = tf.saved_model.load(metadata["path"]) if fold is not None else ensemble_export[1]
    assert {"serving_default", "serve_uint8", "serve_encoded"} <= set(loaded.signatures)
    images = np.random.default_rng(3).uniform(0, 255, (2, 40, 24, 3)).astype(np.float32)
    outputs = loaded.signatures["serving_default"](images=tf.constant(images))
    names = ["fold0/model.keras", "fold1/model.keras"] if fold is None else ["fold1/model.keras"]
    expected = keras_mean(run_dir, names, images)
    np.testing.assert_allclose(outputs["probability"].numpy()[..., 0], expected, atol=1e-4)
    np.testing.assert_array_equal(outputs["landslide"].numpy()[..., 0],
                                  (outputs["probability"].numpy()[..., 0] >= metadata["threshold"]).astype(np.uint8))


def test_encoded_and_uint8_signatures_agree_with_raw_images(ensemble_export):
    _, loaded = ensemble_export
    image = np.random.default_rng(4).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    raw = loaded.signatures["serving_default"](images=tf.constant(image[None].astype(np.float32)))
    encoded = loaded.signatures["serve_encoded"](encoded=tf.constant([buffer.getvalue()]))
    as_uint8 = loaded.signatures["serve_uint8"](images=tf.constant(image[None]))
    np.testing.assert_allclose(encoded["probability"].numpy(), raw["probability"].numpy(), atol=1e-6)
    np.testing.assert_allclose(as_uint8["probability"].numpy(), raw["probability"].numpy(), atol=1e-6)


def test_metadata_and_version_numbering(trained, ensemble_export):
    _, records, run_dir = trained
    first = ensemble_export[0]
    version = Path(first["path"])
    out, name = version.parent.parent, version.parent.name
    second = export_run(run_dir, out, name=name, fold=0)  # the same name again: the next version
    assert (first["version"], second["version"]) == (1, 2) and version.name == "1"
    assert (version / "saved_model.pb").exists() and (version / "variables").is_dir()
    metadata = read_metadata(version)
    assert metadata["bands"] == 3 and metadata["resolution_m"] == 0.8 and metadata["band_names"] == ["red", "green", "blue"]
    assert metadata["training_manifest_sha256"] == hashlib.sha256((records / "manifest.json").read_bytes()).hexdigest()
    assert metadata["normalisation"]["band_statistics"][0]["name"] == "red"
    with pytest.raises(OutputError, match="version 2 exists"):
        export_run(run_dir, out, name=name, version=2)
    assert sorted(p.name for p in (out / name).iterdir()) == ["1", "2"]  # nothing partial


def test_metrics_join_the_metadata_once_evaluated(trained, tmp_path):
    _, _, run_dir = trained
    copy = tmp_path / "evaluated"
    shutil.copytree(run_dir, copy)
    assert run("eval", copy, "--figures", "0").exit_code == 0
    metadata = export_run(copy, tmp_path / "s")
    assert metadata["metrics"]["f1"] == json.loads((copy / "eval-test/metrics.json").read_text())["f1"]


def test_bad_exports(trained, ensemble_export, tmp_path):
    _, _, run_dir = trained
    out = tmp_path / "s"
    shutil.copytree(ensemble_export[0]["path"], out / "m" / "1")  # an export of this run, as `export` wrote it
    metadata = json.loads((out / "m/1/metadata.json").read_text())
    metadata["architecture"] = "segnet"
    (out / "m/1/metadata.json").write_text(json.dumps(metadata))
    assert_one_line_error(run("export", run_dir, out, "--name", "m"), "holds a different model")
    unfinished = tmp_path / "unfinished"
    shutil.copytree(run_dir, unfinished)
    state = json.loads((unfinished / "run.json").read_text())
    state["ensemble"]["models"] = []
    (unfinished / "run.json").write_text(json.dumps(state))
    assert_one_line_error(run("export", unfinished, tmp_path / "s2"), "no finished fold model")
    assert not (tmp_path / "s2").exists()


def test_rest_client_against_the_in_process_model(trained, ensemble_export):
    _, _, run_dir = trained
    metadata, loaded = ensemble_export
    client = ServingClient("http://localhost:8501/v1/models/run", bands=3)
    images = np.random.default_rng(5).integers(0, 256, (2, 32, 40, 3), dtype=np.uint8)
    body = client.request_body(images)
    assert body["signature_name"] == "serve_uint8"
    json.dumps(body)  # what goes over the wire is plain JSON
    probability, landslide = client.read_response(serve_rest(loaded, json.loads(json.dumps(body))))
    expected = keras_mean(run_dir, ["fold0/model.keras", "fold1/model.keras"], images.astype(np.float32))
    np.testing.assert_allclose(probability, expected, atol=1e-4)
    np.testing.assert_array_equal(landslide, (probability >= metadata["threshold"]).astype(np.uint8))
    png = io.BytesIO()
    Image.fromarray(images[0]).save(png, format="PNG")
    encoded_probability, _ = client.read_response(serve_rest(loaded, client.encoded_request_body([png.getvalue()])))
    np.testing.assert_allclose(encoded_probability[0], probability[0], atol=1e-6)


def test_client_refuses_bad_requests_before_sending():
    client = ServingClient("http://localhost:1/never", bands=3)
    with pytest.raises(InputError, match="3 bands"):
        client.request_body(np.zeros((1, 8, 8, 4), np.uint8))
    with pytest.raises(InputError, match="each side"):
        client.request_body(np.zeros((1, 0, 8, 3), np.uint8))
    with pytest.raises(InputError, match="cannot take PNG"):
        ServingClient("http://x", bands=5).encoded_request_body([b"png"])


def test_serving_client_refuses_oversized_and_slow_answers():
    import http.server
    import threading

    from lim_tf.errors import InputError
    from lim_tf.serving import ServingClient

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            if self.path.startswith("/slow"):
                threading.Event().wait(3)  # answers later than the client waits
                return
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"{" + b" " * 5000 + b"}")  # larger than the client accepts

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    chips = np.zeros((1, 4, 4, 3), np.uint8)
    try:
        with pytest.raises(InputError, match="larger than 1,000 bytes"):
            ServingClient(f"{base}/big", bands=3, max_response=1000).predict(chips)
        with pytest.raises(InputError, match="no answer"):
            ServingClient(f"{base}/slow", bands=3, timeout=0.5).predict(chips)
        with pytest.raises(InputError, match="no answer"):
            ServingClient("http://127.0.0.1:9/v1/models/x", bands=3, timeout=2).predict(chips)
    finally:
        server.shutdown()


def test_models_carrying_code_load_only_when_trusted(tmp_path):
    import keras

    from lim_tf.errors import InputError
    from lim_tf.models import load_model

    inputs = keras.Input((None, None, 3))
    keras.Model(inputs, keras.layers.Lambda(lambda x: x[..., :1] * 0 + 0.5)(inputs)).save(tmp_path / "code.keras")
    with pytest.raises(InputError, match="holds Python code.*--trust-model"):
        load_model(tmp_path / "code.keras")
    assert load_model(tmp_path / "code.keras", trust=True)(np.zeros((1, 2, 2, 3))).shape == (1, 2, 2, 1)
    result = run("map", tmp_path / "scene.tif", tmp_path / "code.keras", tmp_path / "out")
    assert result.exit_code != 0 and "--trust-model" in result.output and not (tmp_path / "out").exists()


def test_model_names_never_become_paths():
    from lim_tf.errors import ConfigError
    from lim_tf.export.naming import model_name

    assert model_name("landslides v2", "run") == "landslides_v2"
    for name in ("..", ".", ".hidden", "../x"):
        with pytest.raises(ConfigError, match="not a plain model name"):
            model_name(name, "run")
    assert model_name(None, "/data/runs/cpu") == "cpu"
