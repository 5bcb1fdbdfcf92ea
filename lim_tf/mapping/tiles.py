"""A batch of tiles as a unit of work: predicted wherever it runs (this process or a Dask worker)
and saved as one file per tile, atomically, so a finished tile is never redone and a half-done
one never read."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from lim_tf.atomic import atomic_file
from lim_tf.geo.windows import Tile
from lim_tf.mapping.config import Runtime
from lim_tf.mapping.scene import SceneSpec

if TYPE_CHECKING:
    from lim_tf.mapping.predict import TileResult

# Nothing here imports TensorFlow at module import: a client that only reads tile files stays light.


@dataclass(frozen=True)
class SceneJob:
    """Everything a worker needs to predict tiles of one scene; small and picklable."""

    scene: SceneSpec  # where the worker reads it (GDAL paths such as /vsis3/... where it can read them)
    model: str  # run folder or .keras file, readable by the worker
    fold: int | None
    turns: int  # test-time quarter turns averaged per tile
    trust_model: bool
    threshold: float
    folder: str  # where the tile files go (a shared filesystem on a cluster)
    uncertainty: bool = False
    runtime: Runtime = "tensorflow"  # or "onnx", "onnx-int8": see lim_tf.trained.onnx_model
    cache: bool = True  # keep converted networks in the worker's cache folder (map --no-cache: not)


def tile_path(folder: str | Path, tile: Tile) -> Path:
    return Path(folder) / f"r{tile.row:07d}_c{tile.col:07d}.npz"


def batch_done(job: SceneJob, batch: list[Tile]) -> bool:
    """Whether every tile of the batch has its finished file."""
    return all(tile_path(job.folder, tile).exists() for tile in batch)


def run_batches(job: SceneJob, batches: list[list[Tile]]) -> int:
    """Predict consecutive batches of one scene and save their tiles; returns the pixels done.

    One reader thread reads the next batch while the network runs on this one, as the in-process
    path does, so a worker's core is not idle while GDAL decodes. Batches whose files exist (a
    task run again after its worker died) are skipped. The model and the scene are opened once per
    process and kept, so a worker pays for loading them once."""
    from concurrent.futures import ThreadPoolExecutor

    from lim_tf.mapping.predict import predict_ahead

    todo = [batch for batch in batches if not batch_done(job, batch)]
    if not todo:
        return 0
    # int8 is calibrated on the job's scene, so it is loaded again for each scene; the others once
    calibrate_on = job.scene if job.runtime == "onnx-int8" else None
    model = _load(job.model, job.fold, job.turns, job.trust_model, job.uncertainty, job.runtime, calibrate_on,
                  job.cache)
    scene = _scene(job.scene, model.bands, model.normalization() if job.scene.normalize == "scene" else None)
    with ThreadPoolExecutor(max_workers=1) as io:
        for _, results in predict_ahead(scene, model, todo, job.threshold, io):
            for result in results:
                save_result(job.folder, result)
    return sum(t.rows * t.cols for batch in todo for t in batch)


@functools.lru_cache(maxsize=1)
def _load(model: str, fold: int | None, turns: int, trust: bool, uncertainty: bool, runtime: str,
          calibrate_on: SceneSpec | None, cache: bool = True):
    import dataclasses

    from lim_tf.mapping.calibration import calibration_chips
    from lim_tf.runtime.cache import FileCache
    from lim_tf.runtime.quiet import tf
    from lim_tf.trained.ensemble import load_models
    from lim_tf.trained.onnx_model import for_runtime

    ensemble = dataclasses.replace(load_models(Path(model), fold, turns, trust)[0], uncertainty=uncertainty)

    def calibration() -> list:  # on the scene as the network will see it (its light adjusted, if asked)
        assert calibrate_on is not None
        statistics = ensemble.normalization() if calibrate_on.normalize == "scene" else None
        return calibration_chips(_scene(calibrate_on, ensemble.bands, statistics))

    # ONNX Runtime gets as many threads as the worker gave TensorFlow (0: all cores)
    return for_runtime(ensemble, runtime, tf.config.threading.get_intra_op_parallelism_threads(),
                       calibration if calibrate_on else None, FileCache.default(cache))


@functools.lru_cache(maxsize=4)
def _scene(spec: SceneSpec, model_bands: int, statistics: tuple | None = None):
    """The job's scene, open; with the training imagery's `statistics` (mean, std), its light brought
    to them from its own statistics (the same windows on every worker, so the same gains)."""
    from lim_tf.mapping.calibration import scene_radiometry
    from lim_tf.mapping.scene import open_scene

    scene = open_scene(spec, model_bands)
    if statistics is not None:
        scene.adjust = scene_radiometry(scene, *statistics)
    return scene


def save_result(folder: str | Path, result: "TileResult") -> None:
    """Write a tile's arrays to a temporary name and rename: the file appears whole or not at all."""
    arrays = {"probability": result.probability, "landslide": result.landslide}
    if result.agreement is not None:
        arrays["agreement"] = result.agreement
    if result.uncertainty is not None:
        arrays["uncertainty"] = result.uncertainty
    with atomic_file(tile_path(folder, result.tile), suffix=".npz", tidy=False) as temporary:
        np.savez(temporary, **arrays)  # type: ignore[arg-type]


def load_result(folder: str | Path, tile: Tile) -> "TileResult":
    """A saved tile back as a TileResult."""
    from lim_tf.mapping.predict import TileResult

    with np.load(tile_path(folder, tile)) as data:
        optional = {name: data[name] if name in data.files else None for name in ("agreement", "uncertainty")}
        return TileResult(tile, data["probability"], data["landslide"], **optional)
