"""`lim-tf map SCENE... MODEL OUT` for many scenes or on a cluster: tiles spread over workers, each
scene assembled here, then the region layer (merged inventory, mosaics, summary).

Work goes by batches of tiles, not by scene, so one huge scene uses every worker. Each batch is
saved as tile files in a work folder beside OUT (`.OUT.work/`); a scene's outputs are assembled
from them once all its tiles are done, so the pixels equal those of the in-process path. A batch
whose files exist is not run again: that is how `--resume` continues an interrupted run and how a
worker's death costs only its unfinished batches (Dask runs them elsewhere).
"""

from __future__ import annotations

import dataclasses
import glob
import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from lim_tf.atomic import atomic_directory
from lim_tf.errors import ConfigError, InputError, LimError, OutputError, out_of_space
from lim_tf.geo.vectors import check_crs
from lim_tf.mapping.assembly import SceneAssembly
from lim_tf.mapping.config import MapConfig
from lim_tf.mapping.predict import check_disk, check_memory, plan_batches
from lim_tf.mapping.runtime_choice import RuntimeChoice, model_identity, remembered_runtime, timing_sample
from lim_tf.mapping.scene import SceneSpec, open_scene
from lim_tf.mapping.scene_map import Mapping, check_map_inputs, describe_run, map_scene, model_statistics, resolve
from lim_tf.mapping.summary import RegionSummary, SceneStatus, SceneSummary
from lim_tf.mapping.tiles import SceneJob, batch_done, run_batches
from lim_tf.runtime.cluster import executor, parse_cluster
from lim_tf.runtime.measured import Measurements
from lim_tf.zoo import is_zoo_name

log = logging.getLogger(__name__)
RASTER_SUFFIXES = (".tif", ".tiff", ".jp2", ".vrt", ".img")
TASK_BATCHES = 4  # batches per task: see _groups
MIN_TASKS = 4


@dataclass(frozen=True)
class RegionConfig:
    """How a many-scene (or cluster) run is carried out."""

    cluster: str | None = None  # None: in process; "local:N"; or a scheduler address "tcp://host:8786"
    crs: str | None = None  # the region layer's CRS; None: the scenes' own if they share one, else WGS84
    resume: bool = False  # keep finished tiles of an interrupted run and do the rest
    fail_fast: bool = False  # stop at the first scene that fails instead of finishing the others

    def __post_init__(self) -> None:
        parse_cluster(self.cluster)  # both refused here, before a scene is read or a folder made
        if self.crs is not None:
            check_crs(self.crs, "--region-crs")


@dataclass
class SceneRun:
    """One scene's progress through the run."""

    name: str
    path: str
    job: SceneJob | None = None
    batches: list = field(default_factory=list)
    remaining: int = 0
    error: str | None = None
    summary: SceneSummary | None = None
    assembly: SceneAssembly | None = None  # open from its first finished batch to its last


def is_gdal_path(item: str) -> bool:
    """A path for one of GDAL's virtual file systems (/vsicurl/, /vsis3/, ...) or a URL: given to GDAL
    as it is, never globbed (a signed URL holds '?') nor normalised (that would drop a '/' of '//')."""
    return item.startswith("/vsi") or "://" in item


def map_scenes(scenes: list[str], model_path: Path, out: Path, config: MapConfig = MapConfig(),
               region: RegionConfig | None = None, overwrite: bool = False,
               progress: bool = True) -> SceneSummary | RegionSummary:
    """`lim-tf map`: one file maps in this process straight into OUT; several scenes, a folder, a
    glob, a cluster or --resume go through the region path (OUT/<scene>/ and OUT/region/)."""
    region = region or RegionConfig()
    item = scenes[0]
    one_file = len(scenes) == 1 and (is_gdal_path(item) or not (any(c in item for c in "*?[") or Path(item).is_dir()))
    if config.sentinel2 or (one_file and not (region.cluster or region.resume)):
        return map_scene(item, model_path, out, config, overwrite, progress)
    return map_region(list(scenes), model_path, out, config, region, overwrite, progress)


def list_scenes(items: list[str]) -> list[str]:
    """Scene paths from files, folders (their rasters) and glob patterns; GDAL paths (/vsis3/...,
    /vsicurl/...) pass through unchanged."""
    scenes: list[str] = []
    for item in items:
        path = Path(item)
        if is_gdal_path(item):
            scenes.append(item)
        elif path.is_dir():
            scenes += sorted(str(p) for p in path.iterdir() if p.suffix.lower() in RASTER_SUFFIXES)
        elif any(c in item for c in "*?["):
            scenes += sorted(glob.glob(item))
        else:
            scenes.append(item)  # a missing file is reported with its scene
    if not scenes:
        raise InputError(f"{' '.join(items)}: no scenes found (expected raster files, folders of them or globs)")
    return scenes


def scene_names(paths: list[str]) -> list[str]:
    """Output folder names: file stems, numbered where two scenes share one."""
    names: list[str] = []
    for path in paths:
        stem = Path(path.rstrip("/")).stem or "scene"
        name, number = stem, 2
        while name in names or name in ("region",):
            name, number = f"{stem}_{number}", number + 1
        names.append(name)
    return names


def work_folder(out: Path) -> Path:
    """Where tile files live during a run: beside OUT, so OUT only ever holds finished outputs."""
    return out.parent / f".{out.name}.work"


def map_region(scenes: list[str], model_path: Path, out: Path, config: MapConfig = MapConfig(),
               region: RegionConfig = RegionConfig(), overwrite: bool = False,
               progress: bool = True) -> SceneSummary | RegionSummary:
    """Map every scene into OUT/<scene>/ (or OUT itself for a single scene) and, for several, the
    region layer into OUT/region/. Returns the scene's summary (its `run` the run's record), or the
    region's."""
    started = time.perf_counter()
    out = Path(out)
    if config.sentinel2:
        raise ConfigError("--sentinel2 maps one product at a time; prepare each, then map them together")
    paths = list_scenes(scenes)
    check_map_inputs(out, [*scenes, *paths], model_path, config)
    single = len(paths) == 1
    if out.exists() and not (overwrite or region.resume):
        raise OutputError(f"{out}: already exists; choose another folder, or pass --overwrite or --resume")
    work = work_folder(out)
    if work.exists() and not region.resume:
        shutil.rmtree(work)
    described = describe_run(Path(model_path), config)  # run.json says it all: the workers load the model, not this process
    if described:
        mapping, estimate = described
        check_memory(estimate, config.predict, config.runtime)  # as every worker will need, if it has what this machine has
    else:
        model, mapping, _ = resolve(Path(model_path), config)
        check_memory(model.models, config.predict, config.runtime)
        if config.normalize == "scene":
            model_statistics(model, paths[0])  # here, not once per scene on the workers
        del model  # the workers load their own copy; this one only told us bands, threshold and resolution
    runs = [_plan(name, path, work / name, model_path, config, mapping, region.fail_fast, out)
            for name, path in zip(scene_names(paths), paths)]
    choice = _runtime(runs, model_path, config)
    done_before = {id(run): [b for b in run.batches if batch_done(run.job, b)] for run in runs if run.job}
    tasks = [(run.job, group) for run in runs if run.job
             for group in _groups([b for b in run.batches if not batch_done(run.job, b)])]
    reused = sum(len(batches) for batches in done_before.values())
    computed = sum(len(group) for _, group in tasks)
    by_job = {id(run.job): run for run in runs if run.job}
    for run in runs:
        if run.job:
            run.remaining = len(run.batches)  # counted down as batches are written, old and new
    # Everything is staged beside OUT and takes its place only when whole; the tile files in the
    # work folder are what a killed or failed run resumes from.
    with atomic_directory(out, overwrite or region.resume) as staging, executor(region.cluster) as engine:
        log.info("mapping %d scene(s), %d batches of tiles in %d tasks (%d batches already done) %s", len(runs),
                 computed, len(tasks), reused, engine.description)
        if progress and hasattr(engine, "client"):
            tqdm.write(f"Dask dashboard: {engine.client.dashboard_link}")  # beside the progress bar it explains
        try:
            for run in runs:  # tiles finished by an earlier, interrupted run
                for batch in done_before.get(id(run), []):
                    _add(run, batch, staging, single, config, mapping)
            _run(engine, tasks, by_job, staging, single, config, mapping, region.fail_fast, progress)
        finally:
            for run in runs:  # a scene left open here failed, or the run stops
                if run.assembly is not None:
                    run.assembly.abandon()
        summary = _finish(runs, staging, single, region, mapping, computed, reused, time.perf_counter() - started,
                          choice, config.vectors)
    record = summary.run if isinstance(summary, SceneSummary) else summary
    if record is not None and not record.failed:
        shutil.rmtree(work, ignore_errors=True)  # every tile is in the outputs now
    return summary


def _run(engine, tasks: list, by_job: dict, staging: Path, single: bool, config: MapConfig, mapping: Mapping,
         fail_fast: bool, progress: bool) -> None:
    """Run the tile batches, writing each into its scene's outputs as it comes in; a scene is finished
    when its last batch is in, and a failed batch fails its scene alone (every scene, with fail_fast)."""
    with tqdm(total=sum(len(b) for _, g in tasks for b in g), desc="mapping", unit="tile", disable=not progress) as bar:
        for (job, group), _, error in engine.run(run_batches, tasks):
            run = by_job[id(job)]
            bar.update(sum(len(batch) for batch in group))
            if run.error:
                continue
            if error is not None and out_of_space(error):
                raise error  # a full disk fails every scene alike: the run stops, in one line naming OUT
            if error is not None:
                run.error = _describe(error)
                log.error("%s: %s", run.path, run.error)
                if fail_fast:
                    raise InputError(f"{run.path}: {run.error}")
                continue
            for batch in group:
                _add(run, batch, staging, single, config, mapping)


def _runtime(runs: list[SceneRun], model_path: Path, config: MapConfig) -> RuntimeChoice:
    """The runtime every worker uses: as asked, or for `auto` the one remembered fastest on this
    machine for the region's pixels, at the first scene's sample window (set on the runs' jobs)."""
    planned = [run for run in runs if run.job and run.batches]
    if config.runtime != "auto" or not planned:
        return RuntimeChoice(config.runtime if config.runtime != "auto" else "tensorflow", "as asked")
    sample, _ = timing_sample(planned[0].batches)
    pixels = sum(timing_sample(run.batches)[1] for run in planned)
    choice = remembered_runtime(model_identity(model_path), sample, pixels, Measurements.default())
    for run in planned:
        assert run.job is not None
        run.job = dataclasses.replace(run.job, runtime=choice.runtime)  # type: ignore[arg-type]
    log.info("runtime %s: %s", choice.runtime, choice.reason)
    return choice


def _groups(batches: list) -> list[list]:
    """A scene's batches in tasks of up to TASK_BATCHES consecutive ones: enough for a worker to read
    ahead, few enough that the workers share a scene's work evenly. A scene of few batches is still
    cut into MIN_TASKS tasks or more (a 2000-px scene in 1024-px tiles once made one task, so a second
    worker stood idle)."""
    size = max(1, min(TASK_BATCHES, len(batches) // MIN_TASKS))
    return [batches[i:i + size] for i in range(0, len(batches), size)]


def _plan(name: str, path: str, folder: Path, model_path: Path, config: MapConfig, mapping: Mapping,
          fail_fast: bool, out: Path) -> SceneRun:
    """Open the scene here to check it and cut it into batches; an unreadable scene fails alone."""
    run = SceneRun(name, path)
    try:
        spec = SceneSpec.of(path, config, mapping.resolution)
        scene = open_scene(spec, mapping.bands)
    except LimError as error:
        if fail_fast:
            raise
        run.error = str(error)
        log.error("%s", error)
        return run
    try:  # the disk is the run's, not the scene's: too small for one scene stops the run
        folder.mkdir(parents=True, exist_ok=True)
        check_disk(folder, scene.shape, len(mapping.model_names), config.uncertainty, out)  # before planning tiles
        run.batches = plan_batches(scene.shape, config.predict)
    finally:
        scene.close()
    model = str(model_path) if is_zoo_name(model_path) else str(Path(model_path).resolve())  # as workers see it
    run.job = SceneJob(spec, model, config.fold, mapping.turns, config.trust_model, mapping.threshold,
                       str(folder.resolve()), config.uncertainty, config.runtime, config.cache)
    return run


def _add(run: SceneRun, batch: list, staging: Path, single: bool, config: MapConfig, mapping: Mapping) -> None:
    """Write a finished batch into its scene's outputs; the last one finishes the scene."""
    if run.error:
        return
    try:
        if run.assembly is None:
            assert run.job is not None  # batches exist only for scenes with a job
            run.assembly = SceneAssembly(run.job, run.name, staging, single, config, mapping)
        run.assembly.add(batch)
        run.remaining -= 1
        if run.remaining == 0:
            assembly, run.assembly = run.assembly, None
            run.summary = assembly.finish()
    except LimError as error:
        run.error = str(error)
        log.error("%s: %s", run.path, error)
        if run.assembly is not None:
            run.assembly.abandon()
            run.assembly = None


def _describe(error: BaseException) -> str:
    """One line for a failed task (a worker's traceback stays in the worker's log)."""
    text = str(error).splitlines()[0] if str(error) else ""
    return f"{type(error).__name__}: {text}"[:300] if not isinstance(error, LimError) else text


def _finish(runs: list[SceneRun], out: Path, single: bool, region: RegionConfig, mapping: Mapping,
            computed: int, reused: int, seconds: float, choice: RuntimeChoice,
            vectors: tuple[str, ...]) -> SceneSummary | RegionSummary:
    """The run's summary, and for several scenes the region layer, into the staged OUT."""
    from lim_tf.mapping.merge import write_region

    failed = [run for run in runs if run.error or not run.summary]
    scenes = [SceneStatus(run.name, run.path, "failed", error=run.error or "not finished") if run in failed or
              not run.summary else
              SceneStatus(run.name, run.path, "done", run.summary.landslides, run.summary.total_area_m2)
              for run in runs]
    summary = RegionSummary(scenes, len(failed), mapping.threshold, mapping.model_names,
                            region.cluster or "in process", computed, reused, round(seconds, 2), choice.runtime,
                            choice.reason)
    if single:
        if failed or runs[0].summary is None:
            raise InputError(f"{runs[0].path}: {runs[0].error}")
        scene = dataclasses.replace(runs[0].summary, run=summary)
        scene.save(out)
        return scene
    done = [run for run in runs if run not in failed]
    folder = out / "region"
    folder.mkdir()
    summary.region = write_region([(run.name, out / run.name) for run in done], folder, region.crs,
                                  [run.path for run in done],
                                  mapping.confidence.cut if mapping.confidence else None, vectors)
    summary.save(folder)
    return summary
