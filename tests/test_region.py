"""Mapping a region on Dask distributed: a real `dask scheduler` and two `dask worker` processes on
127.0.0.1, overlapping scenes, seams, a killed worker, --resume and a scene that cannot be read."""

import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pyogrio.raw
import pytest
import rasterio
from helpers import assert_one_line_error, run
from rasterio.transform import from_origin

from lim_tf.mapping.config import MapConfig, PredictConfig
from lim_tf.mapping.region import RegionConfig, map_region, work_folder
from lim_tf.models import ModelConfig, build_model
from lim_tf.testing import dask_cluster, threshold_model
from lim_tf.testing import write_rgb_scene as write_scene

pytestmark = pytest.mark.slow
TILES = MapConfig(predict=PredictConfig(tile=64, margin=0, batch_size=1))
# (rows, world columns) of the landslides drawn on a 448-column world; scene A holds columns 0..255,
# scene B columns 192..447 (64 shared). Areas in m² (1 m pixels, UTM).
LANDSLIDES = {"across a tile seam in A": ((120, 140), (50, 80)),
              "across A's edge, whole in B": ((30, 50), (240, 280)),
              "inside the overlap": ((200, 210), (200, 220)),
              "only in B": ((100, 130), (342, 362))}


def write_region(folder: Path) -> tuple[Path, Path]:
    world = np.full((256, 448), 50, np.uint8)
    for (r0, r1), (c0, c1) in LANDSLIDES.values():
        world[r0:r1, c0:c1] = 200
    a = write_scene(folder / "a.tif", "EPSG:32648", from_origin(500000, 3000000, 1, 1), world[:, :256])
    b = write_scene(folder / "b.tif", "EPSG:32648", from_origin(500192, 3000000, 1, 1), world[:, 192:])
    return a, b


def areas(gpkg: Path) -> list[float]:
    meta, _, _, fields = pyogrio.raw.read(gpkg, layer="inventory")
    return sorted(fields[list(meta["fields"]).index("area_m2")])


def rasters(folder: Path) -> dict[str, np.ndarray]:
    out = {}
    for scene in ("a", "b"):
        for name in ("probability", "landslides"):
            with rasterio.open(folder / scene / f"{name}.tif") as src:
                out[f"{scene}/{name}"] = src.read(1)
    return out


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory):
    with dask_cluster(tmp_path_factory.mktemp("dask")) as (address, _):
        yield address


@pytest.fixture(scope="module")
def region(tmp_path_factory):
    folder = tmp_path_factory.mktemp("region")
    return (*write_region(folder), threshold_model(folder / "known.keras"), folder)


def test_cluster_region_equals_in_process_with_seams_merged(region, scheduler):
    a, b, model, folder = region
    here = map_region([str(a), str(b)], model, folder / "here", TILES, progress=False)
    there = map_region([str(a), str(b)], model, folder / "there", TILES, RegionConfig(cluster=scheduler),
                       progress=False)
    assert here.cluster == "in process" and there.cluster == scheduler
    assert here.failed == there.failed == 0
    mine, theirs = rasters(folder / "here"), rasters(folder / "there")
    for key in mine:
        np.testing.assert_array_equal(mine[key], theirs[key], err_msg=key)
    # Each landslide once, whole: across the tile seam, across A's edge and in the overlap.
    pixels = sorted((r1 - r0) * (c1 - c0) for (r0, r1), (c0, c1) in LANDSLIDES.values())
    # Areas are geodesic: UTM shrinks lengths by 0.9996 on its central meridian (x = 500 km here).
    expected = [n / 0.9996**2 for n in pixels]
    for run_folder in ("here", "there"):
        np.testing.assert_allclose(areas(folder / run_folder / "region/inventory.gpkg"), expected, rtol=1e-4)
    np.testing.assert_allclose(areas(folder / "there/a/inventory.gpkg"), [n / 0.9996**2 for n in (200, 320, 600)],
                               rtol=1e-4)  # A sees 16 of the 40 columns of the landslide across its edge
    meta, _, _, fields = pyogrio.raw.read(folder / "there/region/inventory.gpkg", layer="inventory")
    scenes = sorted(fields[list(meta["fields"]).index("scenes")])
    assert scenes == ["a", "a,b", "a,b", "b"]
    with rasterio.open(folder / "there/region/landslides.vrt") as mosaic:
        assert mosaic.shape == (256, 448) and int((mosaic.read(1) == 1).sum()) == sum(pixels)


def test_a_worker_lost_while_being_set_up_changes_nothing(region, tmp_path):
    """A fresh cluster's workers import TensorFlow when the map sets them up (a few seconds): one is
    killed the moment TensorFlow's library appears in its memory, so the kill lands in that set-up."""
    a, b, model, folder = region
    with dask_cluster(tmp_path) as (address, pids):
        killed = []

        def kill_during_setup():
            deadline = time.time() + 120
            while time.time() < deadline and not killed:
                for pid in pids:
                    with contextlib.suppress(OSError):
                        if "libtensorflow" in Path(f"/proc/{pid}/maps").read_text():
                            os.kill(pid, signal.SIGKILL)
                            killed.append(pid)
                            break
                time.sleep(0.002)

        killer = threading.Thread(target=kill_during_setup)
        killer.start()
        there = map_region([str(a), str(b)], model, tmp_path / "there", TILES, RegionConfig(cluster=address),
                           progress=False)
        killer.join()
    assert killed and there.failed == 0
    map_region([str(a), str(b)], model, tmp_path / "here", TILES, progress=False)
    here, theirs = rasters(tmp_path / "here"), rasters(tmp_path / "there")
    for key in here:
        np.testing.assert_array_equal(here[key], theirs[key], err_msg=key)


def test_registering_the_set_up_is_tried_again_when_a_worker_is_lost():
    from distributed.comm.core import CommClosedError

    from lim_tf.errors import WorkerError
    from lim_tf.runtime.cluster import SETUP_ATTEMPTS, register_setup

    class Client:
        def __init__(self, failures):
            self.failures, self.calls = failures, 0

        def register_plugin(self, plugin):
            self.calls += 1
            if self.calls <= self.failures:
                raise CommClosedError("in <TCP (closed) ConnectionPool.register_worker_plugin local=tcp://127.0.0.1>")

    client = Client(failures=1)
    register_setup(client, object())
    assert client.calls == 2
    with pytest.raises(WorkerError, match="kept failing while being set up"):
        register_setup(Client(failures=SETUP_ATTEMPTS), object())


def test_the_region_layer_mosaics_the_scenes_uncertainty(region, tmp_path):
    import dataclasses

    a, b, _, _ = region
    build_model(ModelConfig(name="unet", width=1 / 16)).save(tmp_path / "unet.keras")  # flips disagree
    config = dataclasses.replace(TILES, uncertainty=True)
    map_region([str(a), str(b)], tmp_path / "unet.keras", tmp_path / "out", config, progress=False)
    with rasterio.open(tmp_path / "out/region/uncertainty.vrt") as mosaic:
        whole = mosaic.read(1)
    with rasterio.open(tmp_path / "out/a/uncertainty.tif") as one, rasterio.open(tmp_path / "out/b/uncertainty.tif") as two:
        first, second = one.read(1), two.read(1)
    assert whole.shape == (256, 448) and first.max() > 0
    np.testing.assert_array_equal(whole[:, :192], first[:, :192])  # A alone
    np.testing.assert_array_equal(whole[:, 192:], second)  # B, and B wins the overlap as it comes later


def test_a_scene_of_few_batches_still_splits_into_tasks_the_workers_share():
    from lim_tf.mapping.region import _groups

    assert [len(g) for g in _groups(list(range(4)))] == [1, 1, 1, 1]  # one task of 4 would leave a worker idle
    assert [len(g) for g in _groups(list(range(10)))] == [2, 2, 2, 2, 2]
    assert [len(g) for g in _groups(list(range(18)))] == [4, 4, 4, 4, 2]  # long scenes: 4 a task, to read ahead
    assert _groups(list(range(7)))[-1] == [6] and _groups([]) == []


@pytest.fixture(scope="module")
def heavy(tmp_path_factory):
    """Two 512-px scenes and a small U-Net: enough work to stop a run half-way."""
    folder = tmp_path_factory.mktemp("heavy")
    rng = np.random.default_rng(2)
    scenes = [write_scene(folder / f"{name}.tif", "EPSG:32648", from_origin(500000 + 400 * i, 3000000, 1, 1),
                          rng.integers(0, 256, (512, 512)).astype(np.uint8)) for i, name in enumerate("ab")]
    import keras

    keras.utils.set_random_seed(4)  # one fixed network: an unseeded draw can make a map of 10,000 speckles
    build_model(ModelConfig(name="unet", width=1 / 8)).save(folder / "unet.keras")
    config = MapConfig(predict=PredictConfig(tile=32, margin=32, batch_size=1), threshold=0.5)
    clean = map_region([str(s) for s in scenes], folder / "unet.keras", folder / "clean", config, progress=False)
    return scenes, folder / "unet.keras", config, folder, clean


def test_a_worker_killed_mid_run_changes_nothing(heavy, scheduler):
    from distributed import Client

    scenes, model, config, folder, _ = heavy
    with Client(scheduler) as client:
        pids = list(client.run(os.getpid).values())
    out = folder / "killed"
    tiles = work_folder(out)

    def kill_when_started():
        deadline = time.time() + 120
        while time.time() < deadline and len(list(tiles.rglob("*.npz"))) < 4:
            time.sleep(0.005)
        os.kill(pids[0], signal.SIGKILL)

    import threading

    killer = threading.Thread(target=kill_when_started)
    killer.start()
    summary = map_region([str(s) for s in scenes], model, out, config, RegionConfig(cluster=scheduler),
                         progress=False)
    killer.join()
    assert summary.failed == 0
    with Client(scheduler) as client:  # the nanny started a new worker in the killed one's place
        assert os.getpid() not in client.run(os.getpid).values() and pids[0] not in client.run(os.getpid).values()
    # Bit for bit what a clean run on the same cluster gives: the same batches, computed with the
    # same thread settings on every worker (replacements included), whatever the CPU.
    map_region([str(s) for s in scenes], model, folder / "clean-cluster", config, RegionConfig(cluster=scheduler),
               progress=False)
    clean, killed = rasters(folder / "clean-cluster"), rasters(out)
    for key in clean:
        np.testing.assert_array_equal(killed[key], clean[key], err_msg=key)
    # This process computes with all its threads: on some CPUs (AVX2-only Zen 3) oneDNN then rounds
    # differently, by about 1e-6, so only a pixel that close to the threshold may map differently.
    here = rasters(folder / "clean")
    for key in ("a/probability", "b/probability"):
        np.testing.assert_allclose(killed[key], here[key], atol=1e-5, err_msg=key)
        mapped = key.replace("probability", "landslides")
        decided = np.abs(here[key] - config.threshold) > 1e-5
        np.testing.assert_array_equal(killed[mapped][decided], here[mapped][decided], err_msg=mapped)


def test_resume_redoes_only_unfinished_tiles(heavy, tmp_path):
    scenes, model, _, folder, clean_summary = heavy
    out = tmp_path / "out"
    command = [sys.executable, "-m", "lim_tf_cli.main", "-q", "map", *map(str, scenes), str(model), str(out),
               "--tile", "32", "--overlap", "32", "--batch-size", "1", "--threshold", "0.5"]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    tiles = work_folder(out)
    deadline = time.time() + 120
    while time.time() < deadline and len(list(tiles.rglob("*.npz"))) < 40 and process.poll() is None:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    done = len(list(tiles.rglob("r*.npz")))
    total = clean_summary.batches_computed
    assert 0 < done < total and not (out / "region").exists()
    result = run("map", *scenes, model, out, "--tile", "32", "--overlap", "32", "--batch-size", "1",
                 "--threshold", "0.5", "--resume")
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "region/summary.json").read_text())
    assert summary["batches_reused"] == done and summary["batches_computed"] == total - done
    for key, value in rasters(folder / "clean").items():
        np.testing.assert_array_equal(rasters(out)[key], value, err_msg=key)  # in process both times
    assert not tiles.exists()


def test_an_unreadable_scene_fails_alone(region, tmp_path):
    a, b, model, _ = region
    broken = tmp_path / "broken.tif"
    broken.write_bytes(b"II*\x00 not really a tiff")
    result = run("map", a, broken, b, model, tmp_path / "out", "--tile", "64", "--overlap", "0")
    assert result.exit_code == 1
    summary = json.loads((tmp_path / "out/region/summary.json").read_text())
    assert [s["status"] for s in summary["scenes"]] == ["done", "failed", "done"]
    assert "broken.tif" in summary["scenes"][1]["error"]
    assert summary["region"]["landslides"] == 4
    assert (tmp_path / "out/a/landslides.tif").exists() and not (tmp_path / "out/broken").exists()
    stopped = run("map", a, broken, b, model, tmp_path / "stop", "--tile", "64", "--fail-fast")
    assert stopped.exit_code != 0 and "broken.tif" in stopped.output
    assert not (tmp_path / "stop/region").exists()


def test_records_built_on_the_cluster_equal_in_process_records(scheduler, tmp_path):
    from helpers import write_bijie

    from lim_tf.config import ChipConfig, DataConfig, SplitConfig
    from lim_tf.data.build import build_dataset

    source = write_bijie(tmp_path / "bijie", landslides=9, backgrounds=7, seed=4)
    config = DataConfig(chip=ChipConfig(resolution=1.2), split=SplitConfig(folds=3), examples_per_shard=5)
    build_dataset(source, tmp_path / "here", config, progress=False)
    build_dataset(source, tmp_path / "there", config, progress=False, cluster=scheduler)
    here = {p.name: p.read_bytes() for p in sorted((tmp_path / "here").iterdir())}
    there = {p.name: p.read_bytes() for p in sorted((tmp_path / "there").iterdir())}
    assert len(here) > 5 and here.keys() == there.keys()
    for name in here:
        assert here[name] == there[name], name


def test_the_client_reads_the_mapping_off_run_json_without_loading_the_model(trained):
    from lim_tf.mapping.scene_map import describe_run, resolve
    from lim_tf.runtime.memory import inference_estimate

    _, _, run_folder = trained
    for config in (MapConfig(), MapConfig(threshold=0.3, fold=1)):
        mapping, estimate = describe_run(run_folder, config)
        model, loaded, _ = resolve(run_folder, config)
        assert mapping == loaded
        assert estimate == pytest.approx(inference_estimate(model.models))
    assert describe_run(run_folder / "fold0" / "model.keras", MapConfig()) is None  # a bare model file: load it


def test_normalize_scene_needs_the_models_normalisation_in_either_path(region, tmp_path):
    """A model without lim-tf's normalisation layer has no training statistics to bring a scene's light
    to: refused in one line before anything is written, for one scene and for a region (whose workers
    would otherwise fail every scene)."""
    a, b, model, _ = region  # threshold_model: one convolution, no normalisation layer
    for scenes in ([a], [a, b]):
        before = sorted(tmp_path.iterdir())
        result = run("map", *scenes, model, tmp_path / "out", "--normalize", "scene", "--tile", "64", "--overlap", "0")
        assert_one_line_error(result, "--normalize scene", "--normalize model")
        assert sorted(tmp_path.iterdir()) == before
