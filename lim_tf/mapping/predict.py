"""Scene -> landslide probability, binary map and agreement rasters, streamed tile by tile."""

from __future__ import annotations

import errno
import logging
import os
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import rasterio
from rasterio.windows import Window
from tqdm.auto import tqdm

from lim_tf.errors import OutputError, size_text
from lim_tf.geo.grid import pixel_size_metres
from lim_tf.geo.windows import Tile, scene_tiles
from lim_tf.mapping.config import PredictConfig, Runtime
from lim_tf.mapping.scene import Scene
from lim_tf.mapping.styles import style_probability_band
from lim_tf.runtime.process import native_stderr_silenced
from lim_tf.trained.onnx_model import Predictor

log = logging.getLogger(__name__)
PROBABILITY_NODATA = -1.0
MASK_NODATA = 255


@dataclass(frozen=True)
class SceneRasters:
    """Paths of the per-pixel outputs of a scene."""

    probability: Path
    landslides: Path
    agreement: Path | None  # share of ensemble members over the threshold, x 100 (ensembles only)
    uncertainty: Path | None = None  # standard deviation over members and flips (map --uncertainty)


def _round32(value: int) -> int:
    return max(32, -(-value // 32) * 32)


@dataclass(frozen=True)
class TileResult:
    """What one tile contributes to the scene's rasters (its core only)."""

    tile: Tile
    probability: np.ndarray  # float32, PROBABILITY_NODATA where the scene has no data
    landslide: np.ndarray  # uint8: 1, 0, or MASK_NODATA
    agreement: np.ndarray | None  # uint8 percent of members over the threshold (ensembles only)
    uncertainty: np.ndarray | None = None  # float32 standard deviation over members and flips, if asked


def plan_batches(shape: tuple[int, int], config: PredictConfig) -> list[list[Tile]]:
    """The scene's tiles (see geo.windows.scene_tiles) in prediction batches. Every path, in process
    or on a cluster, predicts these same batches, so they give the same pixels."""
    margin = _round32(config.margin) if config.margin else 0
    return _batches(scene_tiles(shape[0], shape[1], _round32(config.tile), margin), config.batch_size)


# ONNX Runtime's memory arena grows in powers of two and keeps what it took, so it holds more of the
# layers' outputs than TensorFlow. `map` of a 4000 x 4000 scene with the shipped U-Net at --tile
# 2048 (Zen 3): peaks of 2.4 GB in TensorFlow, 5.6 GB in ONNX Runtime float32 and 3.5 GB in int8,
# so against TensorFlow's 1.7 GB of activations about 2.9 x and 1.6 x (rounded up here).
ACTIVATION_SCALE = {"tensorflow": 1.0, "onnx": 3.0, "onnx-int8": 2.0, "auto": 1.0}  # auto: only what fits


def check_memory(models: list | dict[str, float], config: PredictConfig, runtime: Runtime = "tensorflow") -> None:
    """Refuse a tile and batch size whose prediction cannot fit in the memory that is free (models,
    or their saved inference estimate), with `runtime` running the network."""
    from lim_tf.runtime.memory import check_fits, inference_bytes

    side = _round32(config.tile) + 2 * (_round32(config.margin) if config.margin else 0)
    check_fits(inference_bytes(models, side * side, config.batch_size, ACTIVATION_SCALE[runtime]),
               f"mapping with --tile {config.tile} and --batch-size {config.batch_size}"
               + ("" if runtime == "tensorflow" else f" in {runtime}"), "lower --tile or --batch-size")


def check_disk(folder: Path, shape: tuple[int, int], members: int, uncertainty: bool = False,
               out: Path | None = None) -> None:
    """Refuse a scene whose uncompressed intermediate rasters (float32 probability, uint8 landslides,
    for an ensemble uint8 agreement, with --uncertainty float32 spread) cannot fit on the disk that
    holds `folder`; the refusal names `out`, the output the user chose."""
    needed = shape[0] * shape[1] * (4 + 1 + (1 if members > 1 else 0) + (4 if uncertainty else 0))
    existing = next(p for p in (Path(folder).resolve(), *Path(folder).resolve().parents) if p.exists())
    free = shutil.disk_usage(existing).free  # OUT's folders may not exist yet
    if needed > free:
        raise OutputError(f"{out or folder.resolve().parent}: mapping {shape[1]} x {shape[0]} pixels needs {size_text(needed)} "
                          f"of intermediate rasters but {size_text(free)} is free; free space, choose another "
                          "OUT, or map at a coarser --resolution")


def predict_images(model: Predictor, images: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray | None]:
    """Each member's probability for a batch and, with `model.uncertainty`, the spread over members and flips."""
    batch = np.stack(images)
    return model.predict_with_uncertainty(batch) if model.uncertainty else (model.predict_members(batch), None)


def tile_results(batch: list[Tile], members: np.ndarray, spread: np.ndarray | None, valids: list[np.ndarray],
                 threshold: float) -> list[TileResult]:
    """Per tile of a predicted batch: mean probability, landslide mask and member agreement on its core."""
    results = []
    for index, (t, valid) in enumerate(zip(batch, valids)):
        rows, cols = t.core
        own, inside = members[:, index][:, rows, cols], valid[rows, cols]
        probability = own.mean(axis=0)
        landslide = np.where(inside, probability >= threshold, MASK_NODATA).astype(np.uint8)
        agreement = None
        if len(own) > 1:
            agree = np.round(100 * (own >= threshold).mean(axis=0))
            agreement = np.where(inside, agree, MASK_NODATA).astype(np.uint8)
        uncertainty = None if spread is None else \
            np.where(inside, spread[index][rows, cols], PROBABILITY_NODATA).astype(np.float32)
        results.append(TileResult(t, np.where(inside, probability, PROBABILITY_NODATA).astype(np.float32),
                                  landslide, agreement, uncertainty))
    return results


class SceneWriter:
    """The scene's raw (uncompressed, tiled) GeoTIFFs, written tile result by tile result."""

    def __init__(self, scene: Scene, folder: Path, ensemble: bool, threshold: float,
                 uncertainty: bool = False) -> None:
        height, width = scene.shape
        profile = dict(driver="GTiff", width=width, height=height, count=1, crs=scene.dataset.crs,
                       transform=scene.dataset.transform, tiled=True, blockxsize=256, blockysize=256,
                       BIGTIFF="IF_SAFER")  # uncompressed: these are compressed once, as COGs
        self.rasters = SceneRasters(folder / "probability_raw.tif", folder / "landslides_raw.tif",
                                    folder / "agreement_raw.tif" if ensemble else None,
                                    folder / "uncertainty_raw.tif" if uncertainty else None)
        kinds = {"probability": ("float32", PROBABILITY_NODATA), "landslides": ("uint8", MASK_NODATA),
                 "agreement": ("uint8", MASK_NODATA), "uncertainty": ("float32", PROBABILITY_NODATA)}
        self.outputs = {name: rasterio.open(getattr(self.rasters, name), "w", dtype=dtype, nodata=nodata, **profile)
                        for name, (dtype, nodata) in kinds.items() if getattr(self.rasters, name) is not None}
        style_probability_band(self.outputs["probability"], threshold)
        if uncertainty:
            self.outputs["uncertainty"].set_band_description(1, "standard deviation of the probability over the "
                                                                "ensemble's members and the four flips")

    def write(self, result: TileResult) -> None:
        t = result.tile
        window = Window(t.col, t.row, t.cols, t.rows)
        arrays = {"probability": result.probability, "landslides": result.landslide,
                  "agreement": result.agreement, "uncertainty": result.uncertainty}
        for name, output in self.outputs.items():
            output.write(arrays[name], 1, window=window)

    def close(self) -> None:
        """Close the rasters and check they reached the disk: GDAL writes cached blocks on closing
        and only prints a failure there (a full disk), so a short file is the sign to stop at."""
        with native_stderr_silenced():  # libtiff prints a failed write here; the size check reports it
            for output in self.outputs.values():
                output.close()
        for output in self.outputs.values():
            blocks = -(-output.height // 256) * -(-output.width // 256)
            expected = blocks * 256 * 256 * np.dtype(output.dtypes[0]).itemsize
            if os.path.getsize(output.name) < expected:
                raise OSError(errno.ENOSPC, "No space left on device (the raster was cut short)", output.name)


def _write_all(writer: SceneWriter, results: list[TileResult]) -> None:
    for result in results:
        writer.write(result)


def predict_scene(scene: Scene, model: Predictor, folder: Path, config: PredictConfig,
                  progress: bool = True, out: Path | None = None) -> SceneRasters:
    """Predict the whole scene into tiled GeoTIFFs in `folder` (staged for OUT, which refusals name);
    memory depends on tile and batch only."""
    check_disk(folder, scene.shape, len(model.models), model.uncertainty, out)
    batches = plan_batches(scene.shape, config)
    writer = SceneWriter(scene, folder, len(model.models) > 1, config.threshold, model.uncertainty)
    start, pixels = time.perf_counter(), 0
    pixel_km2 = _pixel_area_km2(scene)
    bar = tqdm(total=sum(map(len, batches)), desc="mapping", unit="tile", disable=not progress)
    # One I/O thread reads the next batch and writes the last while the network runs; it alone
    # touches the datasets, in the order the work was handed to it.
    io = ThreadPoolExecutor(max_workers=1)
    try:
        writing: Future | None = None
        for batch, results in predict_ahead(scene, model, batches, config.threshold, io):
            if writing is not None:
                writing.result()  # at most one batch waits to be written, so memory stays bounded
            writing = io.submit(_write_all, writer, results)
            pixels += sum(t.rows * t.cols for t in batch)
            bar.update(len(batch))
            area = f"{pixels * pixel_km2:,.2f} km², " if pixel_km2 else ""
            bar.set_postfix_str(f"{area}{pixels / 1e6:.1f} Mpx, {pixels / 1e6 / (time.perf_counter() - start):.2f} Mpx/s")
        if writing is not None:
            writing.result()  # raises a failed write's error
    finally:
        io.shutdown(wait=True, cancel_futures=True)
        bar.close()
        writer.close()
    return writer.rasters


def predict_ahead(scene: Scene, model: Predictor, batches: list[list[Tile]], threshold: float,
                  io: ThreadPoolExecutor) -> Iterator[tuple[list[Tile], list[TileResult]]]:
    """Each batch with its tile results, the next batch read on `io` (the one thread that touches
    the scene's dataset) while the network runs on this one. Shared by the in-process path and the
    workers, so both predict the same batches the same way."""
    reading = io.submit(read_batch, scene, batches[0])
    for index, batch in enumerate(batches):
        reads = reading.result()
        if index + 1 < len(batches):
            reading = io.submit(read_batch, scene, batches[index + 1])
        members, spread = predict_images(model, [image for image, _ in reads])
        yield batch, tile_results(batch, members, spread, [valid for _, valid in reads], threshold)


def read_batch(scene: Scene, batch: list[Tile]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each tile's read window and its valid pixels (one thread at a time per scene: GDAL datasets are not shared)."""
    return [scene.read(t.top, t.left, t.height, t.width) for t in batch]


def _batches(tiles: list[Tile], size: int) -> list[list[Tile]]:
    """Consecutive tiles whose read windows have the same shape, at most `size` at a time."""
    batches: list[list[Tile]] = []
    for tile in tiles:
        last = batches[-1][0] if batches else None
        if last and len(batches[-1]) < size and (last.height, last.width) == (tile.height, tile.width):
            batches[-1].append(tile)
        else:
            batches.append([tile])
    return batches


def _pixel_area_km2(scene: Scene) -> float | None:
    """Area of one pixel in km² for the progress bar (near the scene centre for geographic CRSs)."""
    crs, transform = scene.dataset.crs, scene.dataset.transform
    if crs is None:
        return None
    x, y = transform * (scene.shape[1] / 2, scene.shape[0] / 2)
    dx, dy = pixel_size_metres(transform, crs, x, y)
    return dx * dy / 1e6
