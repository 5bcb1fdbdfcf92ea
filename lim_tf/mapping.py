"""Scene -> landslide probability, binary map and agreement rasters, streamed tile by tile."""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import rasterio
import rasterio.shutil
from rasterio.windows import Window
from tqdm.auto import tqdm

from lim_tf.ensemble import Ensemble
from lim_tf.inventory import PolygonOptions
from lim_tf.scene import Scene
from lim_tf.windows import Tile, scene_tiles

log = logging.getLogger(__name__)
PROBABILITY_NODATA = -1.0
MASK_NODATA = 255


@dataclass(frozen=True)
class PredictConfig:
    """Tiling of the scene for prediction."""

    # Largest core tile edge; each tile is read with `margin` pixels of context on every side that
    # has a neighbour and cropped back, since predictions near a window's edge see less context.
    # Both are rounded to 32. At 2048 the margin adds about 6 % work (13 % at 1024); memory is set
    # by the model's weights up to this size on a CPU (see benchmarks/bench_map.py).
    tile: int = 2048
    margin: int = 32
    batch_size: int = 2
    threshold: float = 0.5
    probability_dtype: Literal["float32", "uint8"] = "float32"


@dataclass(frozen=True)
class SceneRasters:
    """Paths of the per-pixel outputs of a scene."""

    probability: Path
    landslides: Path
    agreement: Path | None  # share of ensemble members over the threshold, x 100 (ensembles only)


def _round32(value: int) -> int:
    return max(32, -(-value // 32) * 32)


def predict_scene(scene: Scene, model: Ensemble, folder: Path, config: PredictConfig,
                  progress: bool = True) -> SceneRasters:
    """Predict the whole scene into tiled GeoTIFFs in `folder`; memory depends on tile and batch only."""
    height, width = scene.shape
    tile = _round32(config.tile)
    margin = _round32(config.margin) if config.margin else 0
    profile = dict(driver="GTiff", width=width, height=height, count=1, crs=scene.dataset.crs,
                   transform=scene.dataset.transform, tiled=True, blockxsize=256, blockysize=256,
                   BIGTIFF="IF_SAFER")  # uncompressed: these are compressed once, as COGs
    ensemble = len(model.models) > 1
    rasters = SceneRasters(folder / "probability_raw.tif", folder / "landslides_raw.tif",
                           folder / "agreement_raw.tif" if ensemble else None)
    tiles = scene_tiles(height, width, tile, margin)
    outputs = [rasterio.open(rasters.probability, "w", dtype="float32", nodata=PROBABILITY_NODATA, **profile),
               rasterio.open(rasters.landslides, "w", dtype="uint8", nodata=MASK_NODATA, **profile)]
    if ensemble:
        outputs.append(rasterio.open(rasters.agreement, "w", dtype="uint8", nodata=MASK_NODATA, **profile))
    start, pixels = time.perf_counter(), 0
    pixel_km2 = _pixel_area_km2(scene)
    batches = _batches(tiles, config.batch_size)
    bar = tqdm(total=len(tiles), desc="mapping", unit="tile", disable=not progress)
    # One I/O thread reads the next batch and writes the last while the network runs; it alone
    # touches the datasets, in the order the work was handed to it.
    io = ThreadPoolExecutor(max_workers=1)
    try:
        reading, writing = io.submit(_read_batch, scene, batches[0]), None
        for index, batch in enumerate(batches):
            reads = reading.result()
            if index + 1 < len(batches):
                reading = io.submit(_read_batch, scene, batches[index + 1])
            members = model.predict_members(np.stack([image for image, _ in reads]))
            if writing is not None:
                writing.result()  # at most one batch waits to be written, so memory stays bounded
            writing = io.submit(_write_batch, outputs, batch, members, [valid for _, valid in reads],
                                config.threshold)
            pixels += sum(t.rows * t.cols for t in batch)
            bar.update(len(batch))
            area = f"{pixels * pixel_km2:,.2f} km², " if pixel_km2 else ""
            bar.set_postfix_str(f"{area}{pixels / 1e6:.1f} Mpx, {pixels / 1e6 / (time.perf_counter() - start):.2f} Mpx/s")
        writing.result()  # raises a failed write's error
    finally:
        io.shutdown(wait=True, cancel_futures=True)
        bar.close()
        for output in outputs:
            output.close()
    return rasters


def _read_batch(scene: Scene, batch: list[Tile]) -> list[tuple[np.ndarray, np.ndarray]]:
    return [scene.read(t.top, t.left, t.height, t.width) for t in batch]


def _write_batch(outputs, batch: list[Tile], members: np.ndarray, valids: list[np.ndarray],
                 threshold: float) -> None:
    for index, (t, valid) in enumerate(zip(batch, valids)):
        rows, cols = t.core
        _write_tile(outputs, Window(t.col, t.row, t.cols, t.rows), members[:, index][:, rows, cols],
                    valid[rows, cols], threshold)


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
    from lim_tf.geo.grid import pixel_size_metres

    crs, transform = scene.dataset.crs, scene.dataset.transform
    if crs is None:
        return None
    x, y = transform * (scene.shape[1] / 2, scene.shape[0] / 2)
    dx, dy = pixel_size_metres(transform, crs, x, y)
    return dx * dy / 1e6


def _write_tile(outputs, window: Window, members: np.ndarray, valid: np.ndarray, threshold: float) -> None:
    probability = members.mean(axis=0)
    outputs[0].write(np.where(valid, probability, PROBABILITY_NODATA).astype(np.float32), 1, window=window)
    landslide = (probability >= threshold).astype(np.uint8)
    outputs[1].write(np.where(valid, landslide, MASK_NODATA).astype(np.uint8), 1, window=window)
    if len(outputs) > 2:
        agree = np.round(100 * (members >= threshold).mean(axis=0)).astype(np.uint8)
        outputs[2].write(np.where(valid, agree, MASK_NODATA).astype(np.uint8), 1, window=window)


def write_cog(source: Path, target: Path, resampling: str, scale_to_uint8: bool = False) -> None:
    """Copy a tiled GeoTIFF to a Cloud-Optimized GeoTIFF with overviews (optionally as uint8 0..254)."""
    if scale_to_uint8:
        with rasterio.open(source) as src:
            profile = src.profile | {"dtype": "uint8", "nodata": MASK_NODATA}
            scaled = source.with_name(source.stem + "_uint8.tif")
            with rasterio.open(scaled, "w", **profile) as dst:
                for _, window in src.block_windows(1):
                    data = src.read(1, window=window)
                    out = np.where(data == PROBABILITY_NODATA, MASK_NODATA, np.round(data * 254))
                    dst.write(out.astype(np.uint8), 1, window=window)
                dst.scales = (1 / 254,)  # GDAL and QGIS unscale to probability
        source = scaled
    # The predictor (floating-point for float32) makes DEFLATE both faster and smaller here.
    rasterio.shutil.copy(source, target, driver="COG", COMPRESS="DEFLATE", PREDICTOR="YES", BLOCKSIZE=512,
                         OVERVIEWS="AUTO", RESAMPLING=resampling, NUM_THREADS="ALL_CPUS")


@dataclass(frozen=True)
class MapConfig:
    """Everything `lim-tf map` needs besides the scene, the model and the output folder."""

    predict: PredictConfig = PredictConfig()
    threshold: float | None = None  # None: the run's threshold
    fold: int | None = None  # None: the run's ensemble
    bands: tuple[str, ...] = ()  # 1-based indexes or band names, in the model's order
    nodata: float | None = None
    allow_no_crs: bool = False
    polygons: PolygonOptions = PolygonOptions()
    geojson: bool = False
    dem: str | None = None
    min_slope: float = 15.0  # degrees; the paper notes most landslides lie on steeper slopes
    slope_action: Literal["flag", "drop"] = "flag"
    inventory: str | None = None  # reference points or polygons to check the map against
    sentinel2: bool = False  # the scene is a Level-2A .SAFE folder or a folder of B02/B03/B04 files
    # Map at this pixel size in metres; None: the model's training resolution (from its records),
    # so a model meets landslides at the size it learnt them. Without one, the scene's own pixels.
    resolution: float | None = None
    tta: bool = False  # average each tile's prediction over its four flips


def map_scene(scene_path: Path, model_path: Path, out: Path, config: MapConfig = MapConfig(),
              overwrite: bool = False, progress: bool = True) -> dict:
    """Map a scene into OUT: probability.tif, landslides.tif, inventory.gpkg, quicklook.png, summary.json."""
    import dataclasses
    import json

    from lim_tf.atomic import atomic_directory
    from lim_tf.ensemble import load_models
    from lim_tf.inventory import check_against, clean, describe, read_inventory, vectorize, write_vector
    from lim_tf.quicklook import write_quicklook
    from lim_tf.scene import open_scene
    from lim_tf.terrain import SlopeSampler

    started = time.perf_counter()
    model, state = load_models(Path(model_path), config.fold, config.tta)
    loaded = time.perf_counter()
    threshold = config.threshold if config.threshold is not None else float(state.get("threshold", 0.5))
    resolution = config.resolution or state.get("resolution")
    if config.sentinel2:
        scene_path = _prepare_sentinel2(Path(scene_path), Path(out), state, resolution, overwrite, progress)
    scene = open_scene(Path(scene_path), config.bands, model.bands, config.nodata, config.allow_no_crs, resolution)
    crs = scene.dataset.crs
    try:
        slope = SlopeSampler(Path(config.dem), scene.dataset) if config.dem else None
        with atomic_directory(Path(out), overwrite) as folder:
            predict = dataclasses.replace(config.predict, threshold=threshold)
            rasters = predict_scene(scene, model, folder, predict, progress)
            predicted = time.perf_counter()
            write_cog(rasters.probability, folder / "probability.tif", "AVERAGE",
                      scale_to_uint8=predict.probability_dtype == "uint8")
            write_cog(rasters.landslides, folder / "landslides.tif", "NEAREST")
            options = config.polygons
            features = describe(clean(vectorize(rasters.landslides), options), rasters.probability,
                                rasters.agreement, crs, options.min_area)
            if slope is not None:
                for feature in features:
                    feature["mean_slope"] = slope.mean_slope(feature["geometry"])
                    feature["low_slope"] = float(feature["mean_slope"] < config.min_slope)
                if config.slope_action == "drop":
                    features = [f for f in features if not f["low_slope"]]
            write_vector(features, folder / "inventory.gpkg", crs, "GPKG")
            if config.geojson:
                write_vector(features, folder / "inventory.geojson", crs, "GeoJSON")
            write_quicklook(scene, rasters.landslides, folder / "quicklook.png")
            summary = _summary(scene_path, model.names, threshold, features)
            summary["resolution_m"] = resolution if scene.resampled else None
            summary["tta"] = config.tta
            summary["seconds"] = {"load_model": loaded - started, "predict": predicted - loaded,
                                  "outputs": time.perf_counter() - predicted}
            if config.inventory:
                reference = read_inventory(Path(config.inventory), crs)
                report = check_against(reference, [f["geometry"] for f in features])
                (folder / "check.json").write_text(json.dumps(report, indent=2) + "\n")
                summary["check"] = report
            (folder / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
            for path in folder.glob("*_raw*.tif"):
                path.unlink()
    finally:
        scene.close()
    return summary


def _prepare_sentinel2(product: Path, out: Path, state: dict, resolution: float | None, overwrite: bool,
                       progress: bool) -> Path:
    """Stack B04/B03/B02 beside OUT (kept: it is the scene the maps are registered to)."""
    from lim_tf.atomic import atomic_file
    from lim_tf.data.manifest import load_manifest
    from lim_tf.errors import OutputError
    from lim_tf.sentinel2 import find_bands, prepare_sentinel2

    target = out.with_name(out.name + "_sentinel2_rgb.tif")
    if target.exists() and not overwrite:
        raise OutputError(f"{target}: already exists; pass --overwrite")
    statistics = load_manifest(Path(state["records"]))["band_statistics"] if state.get("records") else None
    with atomic_file(target) as temporary:
        prepare_sentinel2(find_bands(product), temporary, resolution, statistics, progress=progress)
    return target


def _summary(scene_path: Path, models: list[str], threshold: float, features: list[dict]) -> dict:
    centroids = [(f["centroid_lon"], f["centroid_lat"]) for f in features]
    return {"scene": str(scene_path), "models": models, "threshold": threshold, "landslides": len(features),
            "total_area_m2": float(sum(f["area_m2"] for f in features)),
            "largest_area_m2": float(max((f["area_m2"] for f in features), default=0.0)),
            "centroid_extent_lonlat": [min(c[0] for c in centroids), min(c[1] for c in centroids),
                                       max(c[0] for c in centroids), max(c[1] for c in centroids)] if centroids else None}
