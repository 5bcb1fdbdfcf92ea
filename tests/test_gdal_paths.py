"""GDAL virtual paths (/vsicurl/http://...) reach GDAL unchanged, for one scene as for a region:
scenes served over HTTP with range requests by a server process on 127.0.0.1."""

import contextlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import rasterio
from helpers import run
from rasterio.transform import from_origin

from lim_tf.testing import BOXES, squares, threshold_model
from lim_tf.testing import write_rgb_scene as write_scene


@contextlib.contextmanager
def range_server(folder: Path, tls: tuple[Path, Path] | None = None):
    """The base URL of a range-capable HTTP(S) server process serving `folder` on 127.0.0.1."""
    server = subprocess.Popen([sys.executable, str(Path(__file__).with_name("range_server.py")), str(folder),
                               *map(str, tls or ())], stdout=subprocess.PIPE, text=True)
    try:
        port = int(server.stdout.readline())
        yield f"{'https' if tls else 'http'}://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture
def served(tmp_path):
    """(folder served, base URL) of a range-capable HTTP server process on 127.0.0.1."""
    folder = tmp_path / "www"
    folder.mkdir()
    with range_server(folder) as url:
        yield folder, url


def lim_tf(*args, environment: dict | None = None) -> subprocess.CompletedProcess:
    """The command in a process of its own, as a user runs it (libraries load in the CLI's order), in
    a shell's environment: without the GDAL_CURL_CA_BUNDLE that importing rasterio here set."""
    shell = {k: v for k, v in os.environ.items() if k != "GDAL_CURL_CA_BUNDLE"}
    return subprocess.run([sys.executable, "-m", "lim_tf_cli.main", *map(str, args)], capture_output=True,
                          text=True, env={**shell, **(environment or {})}, timeout=600)


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


def test_gdal_keeps_its_own_curl_beside_tensorflow(served, tmp_path):
    """TensorFlow brings a libcurl of its own: loaded first, it served GDAL's /vsicurl/ with a warning
    ("GDAL was built against curl ..., but is running against ...") and TLS errors as "HTTP response
    code: 0"."""
    folder, url = served
    write_scene(folder / "scene.tif", "EPSG:32648", from_origin(500000, 3000000, 1, 1), squares(64, 64, BOXES[:1]))
    done = lim_tf("map", f"/vsicurl/{url}/scene.tif", threshold_model(tmp_path / "m.keras"), tmp_path / "out")
    assert done.returncode == 0, done.stderr
    assert "curl" not in done.stderr.lower(), done.stderr


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is needed to make a test certificate")
def test_https_with_a_private_certificate_authority(tmp_path):
    """A server whose certificate the system does not trust: refused in one line naming the TLS
    problem, and accepted once CURL_CA_BUNDLE names the certificate (as GDAL_CURL_CA_BUNDLE does)."""
    folder = tmp_path / "www"
    folder.mkdir()
    write_scene(folder / "scene.tif", "EPSG:32648", from_origin(500000, 3000000, 1, 1), squares(64, 64, BOXES[:1]))
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-keyout", str(key), "-out", str(cert),
                    "-days", "2", "-nodes", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    model = threshold_model(tmp_path / "m.keras")
    with range_server(folder, (cert, key)) as url:
        scene = f"/vsicurl/{url}/scene.tif"
        refused = lim_tf("-q", "map", scene, model, tmp_path / "refused")
        lines = [line for line in refused.stderr.splitlines() if line.strip()]
        assert refused.returncode != 0 and len(lines) == 1 and "SSL certificate problem" in lines[0], refused.stderr
        for variable in ("CURL_CA_BUNDLE", "GDAL_CURL_CA_BUNDLE"):
            done = lim_tf("-q", "map", scene, model, tmp_path / variable, environment={variable: str(cert)})
            assert done.returncode == 0, (variable, done.stderr)
