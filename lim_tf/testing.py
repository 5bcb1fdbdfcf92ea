"""Seeded writers of small inputs: the one home of the test data that tests, the reliability harness
and the benchmarks build (nothing binary is committed). Each writes real files that lim-tf reads as
a user's would: PNG chips in the Bijie layout, GeoTIFFs with a CRS and an affine transform."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import rasterio
from PIL import Image
from rasterio.transform import from_origin
from rasterio.windows import Window

UTM_48N = "EPSG:32648"  # Guizhou's zone: Bijie's scenes are here
ORIGIN = (500000.0, 3000000.0)


def write_bijie(root: Path, landslides: int, backgrounds: int, seed: int = 0, even: bool = False,
                size: tuple[int, int] | None = None) -> Path:
    """Random RGB chips in the Bijie layout, 20..59 px a side (even sides if asked, or all `size`);
    each landslide mask is a rectangle of 255 on 0."""
    rng = np.random.default_rng(seed)
    for folder in ("landslide/image", "landslide/mask", "non-landslide/image"):
        (Path(root) / folder).mkdir(parents=True, exist_ok=True)
    for i in range(landslides + backgrounds):
        drawn = rng.integers(20, 60, 2)
        height, width = size or tuple(int(v) // (2 if even else 1) * (2 if even else 1) for v in drawn)
        image = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
        if i < landslides:
            mask = np.zeros((height, width), np.uint8)
            r, c = rng.integers(0, height // 2), rng.integers(0, width // 2)
            mask[r:r + height // 3, c:c + width // 3] = 255
            Image.fromarray(image).save(Path(root) / f"landslide/image/ls_{i:03d}.png")
            Image.fromarray(mask).save(Path(root) / f"landslide/mask/ls_{i:03d}.png")
        else:
            Image.fromarray(image).save(Path(root) / f"non-landslide/image/nls_{i:03d}.png")
    return Path(root)


def write_raster(path: Path, data: np.ndarray, crs: str | None = UTM_48N, pixel: float = 2.0,
                 origin: tuple[float, float] = ORIGIN, transform: Any = None, nodata: float | None = None,
                 **profile: Any) -> Path:
    """A GeoTIFF of `data` (bands, height, width) in its own dtype, north-up from `origin` with square
    pixels (or the given `transform`)."""
    bands, height, width = data.shape
    with rasterio.open(path, "w", driver="GTiff", width=width, height=height, count=bands, dtype=data.dtype,
                       crs=crs, transform=transform or from_origin(*origin, pixel, pixel), nodata=nodata,
                       **profile) as dst:
        dst.write(data)
    return Path(path)


def write_blob_scene(path: Path, size: int, pixel: float = 1.0, origin: tuple[float, float] = (430000.0, 3020000.0),
                     seed: int = 0) -> Path:
    """A size x size RGB scene of noise with bright discs (one per 100,000 px, 12-30 px radius) in
    band 1, written block by block so scenes larger than memory can be made: for mapping benchmarks."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0, size, (max(1, size * size // 100_000), 2))
    radii = rng.uniform(12, 30, len(centres))
    profile = dict(driver="GTiff", width=size, height=size, count=3, dtype="uint8", crs=UTM_48N,
                   transform=from_origin(*origin, pixel, pixel), tiled=True, compress="deflate")
    with rasterio.open(path, "w", **profile) as dst:
        for top in range(0, size, 512):
            rows = min(512, size - top)
            block = rng.integers(0, 200, (3, rows, size), dtype=np.uint8)
            y, x = np.mgrid[top:top + rows, 0:size]
            for (cy, cx), radius in zip(centres, radii):
                if top - radius <= cy <= top + rows + radius:
                    block[0][(y - cy) ** 2 + (x - cx) ** 2 <= radius**2] = 255
            dst.write(block, window=Window(0, top, size, rows))
    return Path(path)


@contextlib.contextmanager
def dask_cluster(folder: Path, workers: int = 2) -> Iterator[tuple[str, list[int]]]:
    """A real Dask scheduler and `workers` single-threaded workers, each under a nanny (which starts a
    new worker when one dies), as separate processes on 127.0.0.1, started with the `dask` command as
    a user would; yields the scheduler's address and the workers' process ids. Logs go to FOLDER."""
    from distributed import Client

    from lim_tf.runtime.cluster import WORKER_ENVIRONMENT

    dask = str(Path(sys.executable).with_name("dask"))
    address_file = folder / "scheduler.json"
    environment = {**os.environ, **WORKER_ENVIRONMENT}
    logs = open(folder / "dask.log", "w")
    processes = [subprocess.Popen([dask, "scheduler", "--host", "127.0.0.1", "--port", "0", "--dashboard-address",
                                   ":0", "--scheduler-file", str(address_file)], stdout=logs, stderr=logs,
                                  env=environment)]
    try:
        deadline = time.time() + 60
        while not address_file.exists() and time.time() < deadline:
            time.sleep(0.2)
        processes += [subprocess.Popen([dask, "worker", "--scheduler-file", str(address_file), "--nthreads", "1",
                                        "--host", "127.0.0.1", "--no-dashboard", "--name", f"worker{i}"],
                                       stdout=logs, stderr=logs, env=environment) for i in range(workers)]
        address = json.loads(address_file.read_text())["address"]
        with Client(address, timeout="60s") as client:
            client.wait_for_workers(workers, timeout=120)
            pids = list(client.run(os.getpid).values())
        yield address, pids
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            process.wait(timeout=30)
        logs.close()


def threshold_model(path: Path, bands: int = 3) -> Path:
    """A model whose output is known: p = sigmoid(band1 - 128), a landslide exactly where band 1 >= 128
    (saved as a .keras file at `path`)."""
    from lim_tf.runtime.quiet import keras

    inputs = keras.Input((None, None, bands))
    layer = keras.layers.Conv2D(1, 1, activation="sigmoid")
    model = keras.Model(inputs, layer(inputs))
    kernel = np.zeros((1, 1, bands, 1), np.float32)
    kernel[0, 0, 0, 0] = 1.0
    layer.set_weights([kernel, np.array([-128.0], np.float32)])
    model.save(path)
    return path


def write_rgb_scene(path: Path, crs: str | None, transform, band1: np.ndarray, nodata=None) -> Path:
    """A 3-band uint8 scene: `band1` as given (what threshold_model reads), bands 2 and 3 seeded noise."""
    rng = np.random.default_rng(0)
    data = np.stack([band1, rng.integers(0, 255, band1.shape), rng.integers(0, 255, band1.shape)]).astype(np.uint8)
    return write_raster(path, data, crs=crs, transform=transform, nodata=nodata)


def squares(height: int, width: int, boxes: Any) -> np.ndarray:
    """Band 1 of 50 with (row, col, size) squares of 200: landslides for threshold_model."""
    band = np.full((height, width), 50, np.uint8)
    for row, col, size in boxes:
        band[row:row + size, col:col + size] = 200
    return band


BOXES = [(3, 5, 9), (40, 41, 20), (70, 10, 6), (90, 90, 11)]  # (row, col, size) of squares() on 100+ px


def write_sentinel2_product(root: Path, size: int = 40) -> tuple[Path, dict[str, np.ndarray]]:
    """A .SAFE-like product with B02, B03, B04 as uint16 DN (reflectance x 10000 + 1000)."""
    folder = root / "S2A_MSIL2A_TEST.SAFE/GRANULE/L2A_T45QYE/IMG_DATA/R10m"
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    truth = {}
    for band, level in (("B02", 0.05), ("B03", 0.08), ("B04", 0.12)):
        reflectance = rng.normal(level, 0.02, (size, size)).clip(0.001, 1)
        dn = np.rint(reflectance * 10000 + 1000).astype(np.uint16)
        dn[:5, :] = 0  # nodata
        truth[band] = dn
        with rasterio.open(folder / f"T45QYE_20200101T000000_{band}_10m.tif", "w", driver="GTiff", width=size,
                           height=size, count=1, dtype="uint16", crs="EPSG:32645",
                           transform=from_origin(600000, 2500000, 10, 10), nodata=0) as dst:
            dst.write(dn, 1)
    return root / "S2A_MSIL2A_TEST.SAFE", truth


def write_scene(path: Path, data: np.ndarray, nodata: float | None = None, crs: str = UTM_48N,
                origin: tuple[float, float] = ORIGIN) -> Path:
    """A scene of `data` (bands, height, width) at 2 m pixels from `origin`."""
    return write_raster(path, data, crs=crs, pixel=2.0, origin=origin, nodata=nodata)
