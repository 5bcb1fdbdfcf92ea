"""`lim-tf map` for one scene: probability and landslide COGs, the inventory, a quicklook and a summary."""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lim_tf.atomic import atomic_directory, atomic_file, check_apart
from lim_tf.data.manifest import load_manifest
from lim_tf.errors import ConfigError, LimError, OutputError
from lim_tf.geo.vectors import read_inventory
from lim_tf.mapping.calibration import calibration_chips, scene_radiometry
from lim_tf.mapping.cog import write_cog, write_landslide_cog
from lim_tf.mapping.config import MapConfig, PolygonOptions
from lim_tf.mapping.inventory import burn, check_against, clean, describe, group_confidence, grouped, rate, vectorize
from lim_tf.mapping.predict import SceneRasters, check_disk, check_memory, plan_batches, predict_scene
from lim_tf.mapping.project import write_project
from lim_tf.mapping.quicklook import write_quicklook
from lim_tf.mapping.runtime_choice import (
    RUNTIMES,
    RuntimeChoice,
    choose_runtime,
    model_identity,
    remember_rate,
    sample_timer,
    timing_sample,
)
from lim_tf.mapping.scene import Scene, SceneSpec, open_scene
from lim_tf.mapping.sentinel2 import find_bands, prepare_sentinel2
from lim_tf.mapping.styles import write_raster_styles
from lim_tf.mapping.summary import SceneSummary
from lim_tf.mapping.terrain import SlopeSampler
from lim_tf.mapping.writers import write_inventory
from lim_tf.runtime.cache import FileCache
from lim_tf.runtime.measured import Measurements
from lim_tf.trained.confidence import ConfidenceModel
from lim_tf.trained.ensemble import Ensemble, load_models
from lim_tf.trained.onnx_model import Predictor, for_runtime, network_key
from lim_tf.trained.run import RunFolder, RunState, resolve_threshold

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class Mapping:
    """What every scene of a run shares: the model's settings, resolved once."""

    threshold: float
    resolution: float | None  # metres per pixel the model maps at (None: each scene's own)
    model_names: list[str]
    bands: int
    confidence: ConfidenceModel | None = None  # the polygons' confidence model and cut (run.json, card)
    turns: int = 1  # test-time quarter turns averaged per tile


def resolve(model_path: Path, config: MapConfig) -> tuple[Ensemble, Mapping, RunState]:
    """Load the model and settle threshold and resolution: the options, else the run's."""
    model, state = load_models(Path(model_path), config.fold, config.tta, config.trust_model)
    model = dataclasses.replace(model, uncertainty=config.uncertainty)
    threshold, _ = resolve_threshold(config.threshold, state)
    return model, Mapping(threshold, config.resolution or state.resolution, model.names, model.bands,
                          _confidence(state, model_path), model.turns), state


def describe_run(model_path: Path, config: MapConfig) -> tuple[Mapping, dict[str, float]] | None:
    """Threshold, resolution, members, bands and the memory estimate of a run, from its run.json
    alone, or None where it does not hold them all (a .keras file, a shipped model, an older run):
    a client that hands the mapping to workers need not load the model itself."""
    path = Path(model_path)
    if not RunFolder(path).state.is_file():
        return None
    state = RunState.load(path)
    estimate = state.inference_estimate(config.fold)
    if estimate is None or not state.models:
        return None
    names = state.models if config.fold is None else [RunFolder.model_name(config.fold)]
    if not set(names) <= set(state.models):
        return None  # an unfinished fold: loading says which
    threshold, _ = resolve_threshold(config.threshold, state)
    return Mapping(threshold, config.resolution or state.resolution, names, len(state.band_names),
                   _confidence(state, model_path), config.tta or state.turns), estimate


def _confidence(state: RunState, model_path: Path) -> ConfidenceModel | None:
    return ConfidenceModel.from_json(state.confidence, f"{model_path}: run.json") if state.confidence else None


def check_map_inputs(out: Path, scenes: list[str], model_path: Path, config: MapConfig) -> None:
    """OUT apart from every input (replacing it would delete one), and the DEM and the reference
    inventory readable, before any scene is mapped (they are used only once a scene is)."""
    check_apart(out, [*(("SCENE", scene) for scene in scenes), ("MODEL", model_path), ("--dem", config.dem),
                      ("--check", config.inventory)])
    if config.dem:
        SlopeSampler.check(Path(config.dem))
    if config.inventory:
        read_inventory(Path(config.inventory), None)


def map_scene(scene_path: str | Path, model_path: Path, out: Path, config: MapConfig = MapConfig(),
              overwrite: bool = False, progress: bool = True) -> SceneSummary:
    """Map a scene into OUT: probability.tif, landslides.tif, inventory.gpkg, quicklook.png, summary.json."""
    started = time.perf_counter()
    check_map_inputs(out, [str(scene_path)], model_path, config)
    if Path(out).exists() and not overwrite:  # before any work, --sentinel2's preparation included
        raise OutputError(f"{out}: already exists; choose another folder or pass --overwrite")
    ensemble, mapping, state = resolve(model_path, config)
    resolved = time.perf_counter()
    check_memory(ensemble.models, config.predict, config.runtime)
    model_id = model_identity(model_path)
    if not config.sentinel2:
        return _map_opened(scene_path, ensemble, mapping, out, config, overwrite, progress, (started, resolved),
                           model_id)
    prepared = _prepare_sentinel2(Path(scene_path), Path(out), state, mapping.resolution, overwrite, progress)
    try:
        return _map_opened(prepared, ensemble, mapping, out, config, overwrite, progress, (started, resolved),
                           model_id)
    except BaseException:
        prepared.unlink(missing_ok=True)  # made for this map alone: a failed map leaves nothing to block a rerun
        raise


def _predictor(ensemble: Ensemble, scene: Scene, config: MapConfig, model_id: str,
               planned: tuple[tuple[int, int, int], int]) -> tuple[Predictor, RuntimeChoice]:
    """What predicts: the runtime asked for, or with `auto` the one timed fastest for this scene here
    (`planned`: its timing sample and pixels, runtime_choice.timing_sample)."""
    cache = FileCache.default(config.cache)
    built: dict[str, Predictor] = {}
    setups: dict[str, float] = {}

    def build(runtime: str) -> Predictor:
        if runtime not in built:
            start = time.perf_counter()
            built[runtime] = for_runtime(ensemble, runtime, calibration=lambda: calibration_chips(scene), cache=cache)
            setups[runtime] = time.perf_counter() - start - sum(setups.values())  # int8's part beyond onnx's
        return built[runtime]

    if config.runtime != "auto":
        return build(config.runtime), RuntimeChoice(config.runtime, "as asked")
    sample, pixels = planned
    images = np.random.default_rng(0).uniform(0, 255, (*sample, ensemble.bands)).astype(np.float32)
    allowed = tuple(r for r in RUNTIMES if r == "tensorflow" or _fits(ensemble, config, r))
    choice = choose_runtime(model_id, sample, pixels, Measurements.default(), sample_timer(images, build),
                            setups.__getitem__, lambda _: cache.has(network_key(ensemble, True)), allowed)
    log.info("runtime %s: %s", choice.runtime, choice.reason)
    return build(choice.runtime), choice


def model_statistics(ensemble: Ensemble, scene_path: str | Path) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The training imagery's band mean and std the model normalises by (for --normalize scene)."""
    statistics = ensemble.normalization()
    if statistics is None:
        raise ConfigError(f"{scene_path}: --normalize scene needs a model with lim-tf's normalisation layer (one "
                          "trained by lim-tf train); map this model with --normalize model")
    return statistics


def _fits(ensemble: Ensemble, config: MapConfig, runtime: str) -> bool:
    try:
        check_memory(ensemble.models, config.predict, runtime)  # type: ignore[arg-type]
        return True
    except LimError:
        return False


def _map_opened(scene_path: str | Path, ensemble: Ensemble, mapping: Mapping, out: Path, config: MapConfig,
                overwrite: bool, progress: bool, clock: tuple[float, float], model_id: str) -> SceneSummary:
    """The prediction and outputs of map_scene, once the model is loaded; `clock` is when the call
    started and when the model was loaded (for summary.json's seconds)."""
    started, resolved = clock
    scene = open_scene(SceneSpec.of(scene_path, config, mapping.resolution), ensemble.bands)
    try:
        # A scene too large for the disk is refused before anything is planned for it (an absurd
        # --resolution makes billions of tiles).
        check_disk(Path(out).resolve().parent, scene.shape, len(ensemble.models), config.uncertainty, Path(out))
        if config.normalize == "scene":
            scene.adjust = scene_radiometry(scene, *model_statistics(ensemble, scene_path))
        opened = time.perf_counter()
        # Converted here, not in resolve (a cluster client only reads the run); int8 is calibrated
        # on the scene's own windows.
        planned = timing_sample(plan_batches(scene.shape, config.predict))
        model, choice = _predictor(ensemble, scene, config, model_id, planned)
        loaded = time.perf_counter()
        slope = SlopeSampler(Path(config.dem), scene.dataset) if config.dem else None
        with atomic_directory(Path(out), overwrite) as folder:
            predict = dataclasses.replace(config.predict, threshold=mapping.threshold)
            rasters = predict_scene(scene, model, folder, predict, progress, Path(out))
            predicted = time.perf_counter()
            if config.runtime == "auto" and choice.runtime == "tensorflow":
                remember_rate(Measurements.default(), model_id, predicted - loaded, planned[1])
            summary = finish_scene(scene, scene_path, rasters, folder, config, mapping, slope)
            summary = dataclasses.replace(
                summary, normalize=config.normalize, scene_gain_offset=scene.adjust, runtime=choice.runtime,
                runtime_reason=choice.reason, runtime_cached=list(getattr(model, "cached", ())),  # from the cache
                seconds={"load_model": (resolved - started) + (loaded - opened),  # with conversion
                         "open_scene": opened - resolved, "predict": predicted - loaded,
                         "outputs": time.perf_counter() - predicted})
            summary.save(folder)
    finally:
        scene.close()
    return summary


def finish_scene(scene: Scene, scene_path: str | Path, rasters: SceneRasters, folder: Path, config: MapConfig,
                 mapping: Mapping, slope: SlopeSampler | None) -> SceneSummary:
    """From the raw rasters to the outputs in `folder`: COGs, inventory (GPKG, GeoJSON), quicklook,
    check.json; the raw rasters are removed. Returns the summary (written by the caller)."""
    crs = scene.dataset.crs
    # The probability COG (the largest output) is written on a second thread while the polygons and
    # the landslide COG are made here: GDAL releases the GIL, and each thread opens its own handles.
    with ThreadPoolExecutor(1) as pool:
        probability = pool.submit(write_cog, rasters.probability, folder / "probability.tif", "AVERAGE",
                                  config.predict.probability_dtype == "uint8")
        options = config.polygons
        polygons = vectorize(rasters.landslides)
        shapes, extra = _outlines(polygons, rasters.probability, mapping, crs, options)
        features = describe(shapes, rasters.probability, rasters.agreement, crs, options.min_area,
                            rasters.uncertainty, extra)
        if rasters.uncertainty is not None:
            write_cog(rasters.uncertainty, folder / "uncertainty.tif", "AVERAGE",
                      config.predict.probability_dtype == "uint8")
        features = _slope(features, slope, config) if slope is not None else features
        features, candidates = rate(features, mapping.confidence)
        landslides = rasters.landslides
        if options.fill_holes or options.simplify or extra is not None or len(features) < len(polygons):
            landslides = folder / "landslides_kept_raw.tif"  # the map as the inventory has it
            burn([f["geometry"] for f in features], rasters.landslides, landslides)
        write_landslide_cog(landslides, folder / "landslides.tif")
        probability.result()
    for feature in features + candidates:
        feature["review"] = None  # the analyst's column: confirmed or rejected (lim-tf data build --review)
    write_inventory(config.vectors, features, candidates if mapping.confidence is not None else None, folder, crs)
    write_raster_styles(folder)
    write_project(folder, crs.to_wkt() if crs else None, tuple(scene.dataset.bounds), [str(scene_path)],
                  candidates=mapping.confidence is not None)
    write_quicklook(scene, landslides, folder / "quicklook.png")
    summary = _summary(scene_path, mapping, features, resampled=scene.resampled, tta=mapping.turns,
                       candidates=len(candidates))
    if config.inventory:
        reference = read_inventory(Path(config.inventory), crs)
        report = check_against(reference, [f["geometry"] for f in features])
        (folder / "check.json").write_text(json.dumps(report, indent=2) + "\n")
        summary.check = report
    for path in folder.glob("*_raw*.tif"):
        path.unlink()
    return summary


def _outlines(polygons: list, probability: Path, mapping: Mapping, crs: Any,
              options: PolygonOptions) -> tuple[list, list[dict] | None]:
    """The inventory's polygons, and their confidence where it comes from their group (else None).
    Where the confidence model groups below the threshold, a polygon is a group of the probability
    at its level, drawn by its parts at the threshold (or whole where it has none), and rated on
    the group, as the model learnt (lim_tf.polygons)."""
    model = mapping.confidence
    if model is None or model.group is None or model.group >= mapping.threshold:
        return clean(polygons, options), None
    groups = vectorize(probability, model.group)
    shapes: list = []
    extra: list[dict] = []
    for drawn, rating in zip(grouped(polygons, groups), group_confidence(groups, probability, crs, model)):
        for shape in clean([drawn], options):  # none where simplifying empties it
            shapes.append(shape)
            extra.append({"confidence": round(float(rating), 4)})
    return shapes, extra


def _slope(features: list[dict], slope: SlopeSampler, config: MapConfig) -> list[dict]:
    """Mean slope per polygon; low-slope polygons flagged, or dropped if asked."""
    for feature in features:
        feature["mean_slope"] = slope.mean_slope(feature["geometry"])
        feature["low_slope"] = float(feature["mean_slope"] < config.min_slope)
    return [f for f in features if not f["low_slope"]] if config.slope_action == "drop" else features


def _prepare_sentinel2(product: Path, out: Path, state: RunState, resolution: float | None, overwrite: bool,
                       progress: bool) -> Path:
    """Stack B04/B03/B02 beside OUT (kept: it is the scene the maps are registered to)."""
    target = out.with_name(out.name + "_sentinel2_rgb.tif")
    if target.exists() and not overwrite:
        raise OutputError(f"{target}: already exists; pass --overwrite")
    statistics = load_manifest(Path(state.records)).band_statistics if state.records else None
    with atomic_file(target) as temporary:
        prepare_sentinel2(find_bands(product), temporary, resolution, statistics, progress=progress)
    return target


def _summary(scene_path: str | Path, mapping: Mapping, features: list[dict], resampled: bool, tta: int,
             candidates: int) -> SceneSummary:
    centroids = [(f["centroid_lon"], f["centroid_lat"]) for f in features]
    extent = [min(c[0] for c in centroids), min(c[1] for c in centroids),
              max(c[0] for c in centroids), max(c[1] for c in centroids)] if centroids else None
    cut = mapping.confidence.cut if mapping.confidence is not None else None
    return SceneSummary(str(scene_path), mapping.model_names, mapping.threshold, len(features),
                        float(sum(f["area_m2"] for f in features)),
                        float(max((f["area_m2"] for f in features), default=0.0)), extent,
                        resolution_m=mapping.resolution if resampled else None, tta=tta,
                        candidates=candidates if cut is not None else None, confidence_cut=cut)
