"""`lim-tf map`: a thin wrapper around lim_tf.mapping.scene_map."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, get_args

import click

from lim_tf.mapping.config import (
    MapConfig,
    Normalize,
    PredictConfig,
    ProbabilityDtype,
    Runtime,
    SlopeAction,
    VectorFormat,
)
from lim_tf_cli.options import choice_of, trust_model_option, tta_option, warn_if_shadowed

if TYPE_CHECKING:
    from lim_tf.mapping.summary import RegionSummary

DEFAULTS = PredictConfig()


def vector_formats(text: str, geojson: bool) -> tuple[VectorFormat, ...]:
    """--vector-format's list (gpkg first, always) with --geojson's."""
    asked = [part.strip().lower() for part in text.split(",") if part.strip()] + (["geojson"] if geojson else [])
    unknown = [name for name in asked if name not in get_args(VectorFormat)]
    if unknown:
        raise click.BadParameter(f"{unknown[0]!r}: choose from {', '.join(get_args(VectorFormat))}",
                                 param_hint="--vector-format")
    return tuple(name for name in get_args(VectorFormat) if name == "gpkg" or name in asked)


DEFAULTS_MAP = MapConfig()


@click.command("map")
@click.argument("scenes", metavar="SCENE...", nargs=-1, required=True)
@click.argument("model", type=click.Path(path_type=Path))
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--fold", type=click.IntRange(0), help="Use this fold's model instead of the run's ensemble.")
@click.option("--bands", help="Scene bands in the model's order: 1-based indexes or names (e.g. 1,2,3 for R,G,B of RGBN).")
@click.option("--nodata", type=float, help="Pixel value meaning nodata when the file does not say (e.g. 0).")
@click.option("--threshold", type=click.FloatRange(0, 1), help="Probability threshold (default: the run's, else 0.5).")
@click.option("--tile", type=click.IntRange(32), default=DEFAULTS.tile,
              help="Largest tile edge in pixels (tiles are balanced to equal sizes); larger tiles use more memory.")
@click.option("--overlap", type=click.IntRange(0), default=DEFAULTS.margin,
              help="Context margin read around each tile and cropped away: edge predictions see less context.")
@click.option("--batch-size", type=click.IntRange(1), default=DEFAULTS.batch_size, help="Tiles predicted at once.")
@click.option("--probability-dtype", type=choice_of(ProbabilityDtype), default="float32",
              help="uint8 stores probability x 254 with a scale factor, 4x smaller.")
@click.option("--min-area", type=click.FloatRange(0), default=0.0, help="Drop polygons smaller than this (m²).")
@click.option("--fill-holes", is_flag=True, help="Fill holes inside polygons.")
@click.option("--simplify", type=click.FloatRange(0), default=0.0, help="Simplification tolerance in CRS units.")
@click.option("--geojson", is_flag=True, help="Also write inventory.geojson (in WGS84); as --vector-format geojson.")
@click.option("--vector-format", "vectors", default="gpkg",
              help="The inventory's formats, comma-separated: " + ", ".join(get_args(VectorFormat)) + " (gpkg always: "
                   "it holds the candidates layer and the styles QGIS opens).")
@click.option("--dem", type=click.Path(path_type=Path), help="DEM on any grid: adds mean_slope to each polygon.")
@click.option("--min-slope", type=click.FloatRange(0, 90), default=15.0, help="Slope (degrees) below which polygons are flagged.")
@click.option("--slope-action", type=choice_of(SlopeAction), default="flag", help="Flag or drop low-slope polygons.")
@click.option("--check", "inventory", type=click.Path(path_type=Path),
              help="Reference inventory (points or polygons): writes check.json with detected and false-alarm shares.")
@click.option("--sentinel2", is_flag=True,
              help="SCENE is a Level-2A .SAFE folder (or a folder of B02/B03/B04 files): stack B04,B03,B02 as R,G,B, "
                   "stretch to the training statistics and map that.")
@click.option("--resolution", type=click.FloatRange(min=0, min_open=True),
              help="Map at this pixel size in metres (the outputs are on that grid). Default: the model's training "
                   "resolution, so landslides appear at the size it learnt them; the scene's own for a bare .keras.")
@tta_option
@click.option("--uncertainty", is_flag=True,
              help="Also write uncertainty.tif, the standard deviation of the probability over the four quarter turns of "
                   "every model (and the fold models of an ensemble), and mean_uncertainty per polygon: review the "
                   "least sure polygons first. Predicts all four turns (up to 4x slower); the probability is unchanged.")
@click.option("--runtime", type=choice_of(Runtime), default=DEFAULTS_MAP.runtime, show_default=True,
              help="What runs the network. auto: the fastest here for this scene, timed on this machine (once per "
                   "model and tile, then remembered) with what each must do first counted: converting the network "
                   "(once per model: kept in the cache) and int8's calibration on the scene, so small scenes stay "
                   "on TensorFlow. tensorflow; onnx: ONNX Runtime on the same weights (the same map within 1e-4); "
                   "onnx-int8: that graph quantised to int8, calibrated on 32 windows of each scene (test F1 within "
                   "0.002, probabilities in steps of 1/255). summary.json says what ran and why.")
@click.option("--normalize", type=choice_of(Normalize), default=DEFAULTS_MAP.normalize,
              help="model: pixels as they are (the model normalises them by its training imagery's band statistics). "
                   "scene: first bring each scene's own band mean and spread (from 64 windows over it, nodata "
                   "left out) to the training imagery's: another region's or sensor's light, with no labels and no "
                   "training.")
@click.option("--no-cache", is_flag=True,
              help="Convert the network for --runtime onnx/onnx-int8 anew instead of using (and keeping) the copy "
                   "in the cache folder ($LIM_TF_CACHE, else $XDG_CACHE_HOME/lim-tf, else ~/.cache/lim-tf).")
@trust_model_option
@click.option("--allow-no-crs", is_flag=True, help="Map a scene without a CRS (areas are then in pixels).")
@click.option("--cluster", help="Spread the tiles over Dask distributed: local:N starts N worker processes here; "
              "tcp://HOST:8786 uses a running scheduler (workers need lim-tf installed and must read the scenes "
              "and OUT). Default: this process.")
@click.option("--region-crs", help="CRS of the region layer for several scenes (default: theirs if they share "
              "one, else EPSG:4326).")
@click.option("--resume", is_flag=True, help="Continue an interrupted run into OUT: finished tiles are kept.")
@click.option("--fail-fast", is_flag=True, help="Stop at the first scene that fails (default: report it in "
              "summary.json and finish the others).")
@click.option("--overwrite", is_flag=True, help="Replace OUT if it exists (kept until the new one is whole).")
@click.pass_context
def map_command(ctx: click.Context, scenes: tuple[str, ...], model: Path, out: Path, fold, bands, nodata, threshold,
                tile, overlap, batch_size, probability_dtype, min_area, fill_holes, simplify, geojson, vectors, dem,
                min_slope, slope_action, inventory, sentinel2, resolution, tta, uncertainty, runtime, normalize,
                no_cache, trust_model, allow_no_crs, cluster, region_crs, resume, fail_fast, overwrite) -> None:
    """Map SCENE (any GDAL raster; several files, folders or globs for a region) with MODEL (a run folder
    or a .keras file) into OUT: probability.tif, landslides.tif, inventory.gpkg and quicklook.png.

    Several scenes go to OUT/<scene>/ each, and OUT/region/ gets the inventory merged across scene
    seams, probability.vrt and landslides.vrt mosaics and summary.json."""
    ctx.meta["output"] = out
    warn_if_shadowed(model)
    from lim_tf.mapping.config import PolygonOptions

    config = MapConfig(
        predict=PredictConfig(tile=tile, margin=overlap, batch_size=batch_size, probability_dtype=probability_dtype),
        threshold=threshold, fold=fold, bands=tuple(b.strip() for b in bands.split(",")) if bands else (),
        nodata=nodata, allow_no_crs=allow_no_crs,
        polygons=PolygonOptions(min_area=min_area, fill_holes=fill_holes, simplify=simplify),
        vectors=vector_formats(vectors, geojson),
        dem=str(dem) if dem else None, min_slope=min_slope, slope_action=slope_action,
        inventory=str(inventory) if inventory else None, sentinel2=sentinel2, resolution=resolution, tta=tta,
        uncertainty=uncertainty, runtime=runtime, normalize=normalize, cache=not no_cache, trust_model=trust_model)
    from lim_tf.mapping.region import RegionConfig, map_scenes
    from lim_tf.mapping.summary import RegionSummary

    region = RegionConfig(cluster=cluster, crs=region_crs, resume=resume, fail_fast=fail_fast)
    summary = map_scenes(list(scenes), model, out, config, region, overwrite, ctx.obj["progress"])
    if isinstance(summary, RegionSummary):
        _echo_region(summary, out)
        return
    click.echo(f"{summary.landslides} landslides, {summary.total_area_m2:,.0f} m² in total "
               f"(largest {summary.largest_area_m2:,.0f} m²) at threshold {summary.threshold:.2f}")
    if summary.centroid_extent_lonlat:
        west, south, east, north = summary.centroid_extent_lonlat
        click.echo(f"where: lon {west:.5f}..{east:.5f}, lat {south:.5f}..{north:.5f}")
    if summary.check is not None:
        check = summary.check
        click.echo(f"check: {check['detected_share']:.0%} of reference landslides detected, "
                   f"{check['false_alarm_share']:.0%} of polygons are false alarms")
    click.echo(f"inventory: {out / 'inventory.gpkg'}  map: {out / 'landslides.tif'}  quicklook: {out / 'quicklook.png'}")


def _echo_region(summary: RegionSummary, out: Path) -> None:
    region = summary.region or {}
    click.echo(f"{len(summary.scenes) - summary.failed} of {len(summary.scenes)} scenes mapped; "
               f"{region['landslides']} landslides, {region['total_area_m2']:,.0f} m² in the region ({region['crs']})")
    for scene in summary.scenes:
        if scene.status == "failed":
            click.echo(f"failed: {scene.path}: {scene.error}", err=True)
    click.echo(f"region: {out / 'region'} (inventory.gpkg, probability.vrt, landslides.vrt, summary.json)")
    if summary.failed:
        raise SystemExit(1)
