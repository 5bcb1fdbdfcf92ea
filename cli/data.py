"""`lim-tf data`: build records from a source, print their statistics, generate synthetic data."""

from __future__ import annotations

import json
from pathlib import Path

import click

from lim_tf.config import (
    ALL_RECIPES,
    ChipMode,
    DataConfig,
    SourceFormat,
    resolve_data_config,
)
from lim_tf.errors import ConfigError
from lim_tf_cli.options import choice_of


@click.group()
def data() -> None:
    """Build TFRecords from image chips, show their imbalance, make synthetic data."""


def _split_list(text: str | None) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip()) if text else ()


@data.command()
@click.argument("input_path", metavar="INPUT", type=click.Path(path_type=Path))
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--format", "source_format", type=choice_of(SourceFormat),
              default="bijie", help="Layout of INPUT (see docs/data.md).")
@click.option("--config", "config_file", type=click.Path(exists=True, path_type=Path),
              help="YAML DataConfig; command-line options given explicitly override it.")
@click.option("--bands", help="Bands to keep, by name (B4,B3,B2) or 1-based index (1,2,3).")
@click.option("--mask-values", help="Mask value map, e.g. '2=landslide,1=background,0=ignore'. "
              "Default: 0=background, 1 and 255=landslide.")
@click.option("--include-dem", is_flag=True, help="Bijie: add */dem/ rasters as an extra band.")
@click.option("--labels", help="geotiff: label raster or vector inventory for a single scene file.")
@click.option("--review", is_flag=True,
              help="geotiff: --labels is an inventory.gpkg an analyst reviewed (its review column): confirmed and "
                   "newly drawn polygons are landslide, rejected ones background (hard negatives), unreviewed ones "
                   "and all ground outside the reviewed area are ignored.")
@click.option("--labelled-area", type=click.Path(path_type=Path),
              help="With --review: polygons of the ground the analyst checked everywhere (default: the reviewed "
                   "polygons grown by --review-margin).")
@click.option("--review-margin", type=click.FloatRange(0), default=30.0,
              help="With --review: metres around each reviewed polygon that count as checked ground.")
@click.option("--nodata", type=float, help="Pixel value meaning nodata (overrides the raster's own).")
@click.option("--resolution", type=click.FloatRange(min=0, min_open=True),
              help="Bring every sample to this pixel size in metres (bilinear image, nearest mask); 'lim-tf map' "
                   "and 'eval --images' then work at it too. Default: keep the source's pixels.")
@click.option("--source-resolution", type=click.FloatRange(min=0, min_open=True),
              help="Pixel size of INPUT in metres when its files do not say (default: Bijie 0.8, "
                   "Landslide4Sense 10; GeoTIFFs carry their own).")
@click.option("--chip-mode", type=choice_of(ChipMode), default="native",
              help="native: keep each sample whole at one ground resolution, as a scene shows it; grid: cut "
                   "samples into --chip-size chips; resize: resize every sample to --chip-size as the FCN-FL "
                   "paper did (a size cue no scene offers).")
@click.option("--chip-size", type=click.IntRange(8), default=256, help="Chip size for --chip-mode grid and resize.")
@click.option("--stride", type=click.IntRange(1), help="Grid stride when cutting; default: the chip size.")
@click.option("--test-landslide", default="0.1", show_default=True,
              help="Landslide samples held out for testing: a count (70 as in the paper) or a fraction (0.1; 1.0 or "
                   "'all' for every one).")
@click.option("--test-non-landslide",
              help="Non-landslide samples held out: count or fraction. Default: the same share as landslide "
                   "samples, so the test split keeps the dataset's ratio of the two kinds.")
@click.option("--folds", type=click.IntRange(0), default=5,
              help="Cross-validation folds over the rest (0 with --test-only).")
@click.option("--test-only", is_flag=True,
              help="Hold every sample out: a test-only record set, e.g. another region to score a model on.")
@click.option("--seed", type=int, default=0, help="Seed for splits and augmentation.")
@click.option("--augment", "recipes", default=",".join(ALL_RECIPES),
              help="Offline recipes for training landslide chips, comma-separated; 'none' for no augmentation.")
@click.option("--copies", type=click.IntRange(0), default=1, help="Copies per recipe and landslide chip.")
@click.option("--target-ir", type=click.FloatRange(min=0, min_open=True),
              help="Instead of --copies: augment until the training IR is at most this.")
@click.option("--max-copies", type=click.IntRange(1), default=12, help="Bound on copies per chip for --target-ir.")
@click.option("--cluster", help="Read, chip, augment and write shards on Dask distributed: local:N or "
              "tcp://HOST:8786 (workers must read INPUT and write OUT). The records equal an in-process build's.")
@click.option("--overwrite", is_flag=True, help="Replace OUT if it exists (it is kept until the new one is whole).")
@click.pass_context
def build(ctx: click.Context, input_path: Path, out: Path, config_file: Path | None, **options) -> None:
    """Read INPUT, cut it into chips, split, augment and write sharded TFRecords to OUT."""
    ctx.meta["output"] = out
    from lim_tf.data.build import build_dataset
    from lim_tf.data.manifest import imbalance_table

    config = _data_config(ctx, config_file, options)
    manifest = build_dataset(input_path, out, config, overwrite=options["overwrite"], progress=ctx.obj["progress"],
                             cluster=options["cluster"])
    click.echo(imbalance_table(manifest))
    click.echo(f"records: {out}")


def parse_share(text: str | None, option: str) -> int | float | None:
    """'70' is a count, '0.1' or '1.0' a fraction, 'all' every sample; None stays None."""
    if text is None:
        return None
    text = text.strip().lower()
    if text == "all":
        return 1.0
    try:
        return float(text) if any(c in text for c in ".e") else int(text)
    except ValueError as error:
        raise ConfigError(f"{option} {text!r}: give a count (70), a fraction (0.1) or 'all'") from error


# Option -> the DataConfig keys it sets (dotted): the CLI only parses, the library merges.
OPTION_KEYS: dict[str, tuple[str, ...]] = {
    "source_format": ("source.format",), "bands": ("source.bands",), "mask_values": ("source.mask_values",),
    "include_dem": ("source.include_dem",), "labels": ("source.labels",), "review": ("source.review",),
    "labelled_area": ("source.labelled_area",), "review_margin": ("source.review_margin",),
    "nodata": ("source.nodata",), "source_resolution": ("source.resolution",), "chip_mode": ("chip.mode",),
    "chip_size": ("chip.size",), "stride": ("chip.stride",), "resolution": ("chip.resolution",),
    "test_landslide": ("split.test_landslide",), "test_non_landslide": ("split.test_non_landslide",),
    "folds": ("split.folds",), "seed": ("split.seed", "augment.seed"), "recipes": ("augment.recipes",),
    "copies": ("augment.copies",), "target_ir": ("augment.target_ir",), "max_copies": ("augment.max_copies",),
}


def _data_config(ctx: click.Context, config_file: Path | None, o: dict) -> DataConfig:
    """Options given on the command line (every option when there is no --config file) over the YAML."""
    from lim_tf.data.sample import parse_value_map

    parsed = {**o, "bands": _split_list(o["bands"]), "mask_values": parse_value_map(o["mask_values"] or ""),
              "labelled_area": str(o["labelled_area"]) if o["labelled_area"] else None,
              "test_landslide": parse_share(o["test_landslide"], "--test-landslide"),
              "test_non_landslide": parse_share(o["test_non_landslide"], "--test-non-landslide"),
              "recipes": () if o["recipes"].strip().lower() == "none" else _split_list(o["recipes"])}
    unknown = [r for r in parsed["recipes"] if r not in ALL_RECIPES]
    if unknown:
        raise ConfigError(f"--augment: unknown recipe {unknown[0]!r}; choose from {', '.join(ALL_RECIPES)} or 'none'")
    given = [k for k in OPTION_KEYS if not config_file or ctx.get_parameter_source(k) != click.core.ParameterSource.DEFAULT]
    overrides = {key: parsed[option] for option in given for key in OPTION_KEYS[option]}
    return resolve_data_config(config_file, overrides, test_only=o["test_only"])


@data.command()
@click.argument("records", type=click.Path(path_type=Path))
def verify(records: Path) -> None:
    """Check that every shard the manifest of RECORDS lists is there, whole (SHA-256)."""
    from lim_tf.data.manifest import verify_records

    manifest = verify_records(records)
    click.echo(f"{records}: {len(manifest.sha256)} shards, all whole")


@data.command()
@click.argument("sources", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--overwrite", is_flag=True, help="Replace OUT if it exists.")
@click.pass_context
def merge(ctx: click.Context, sources: tuple[Path, ...], out: Path, overwrite: bool) -> None:
    """Merge record sets built alike (bands, pixel type, resolution, folds) into OUT, to train on
    several sources at once. Each keeps its split: its test chips stay test chips, its fold k joins
    fold k. Shards are linked, not copied, where the filesystem allows; band statistics are pooled."""
    ctx.meta["output"] = out
    from lim_tf.data.manifest import imbalance_table
    from lim_tf.data.merge import merge_records

    manifest = merge_records(list(sources), out, overwrite)
    click.echo(imbalance_table(manifest))
    click.echo(f"merged {len(sources)} record sets: {out}")


@data.command()
@click.argument("records", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the statistics as JSON.")
def stats(records: Path, as_json: bool) -> None:
    """Print the imbalance table (the paper's Table 2) of a built record set."""
    from lim_tf.data.manifest import imbalance_table, load_manifest

    manifest = load_manifest(records)
    if as_json:
        keys = ("pixels", "imbalance_ratio", "examples", "band_names", "band_statistics", "chip_mode", "chip_size",
                "resolution")
        content = manifest.to_json()
        click.echo(json.dumps({k: content[k] for k in keys}, indent=2))
    else:
        click.echo(imbalance_table(manifest))


@data.command()
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--landslide-chips", type=click.IntRange(1), default=60, help="Landslide chips to draw.")
@click.option("--non-landslide-chips", type=click.IntRange(0), default=120, help="Background-only chips.")
@click.option("--scene-size", type=click.IntRange(64), default=1024, help="Side of the georeferenced scene (1 m pixels).")
@click.option("--seed", type=int, default=0, help="Seed: the same seed gives the same files.")
@click.option("--overwrite", is_flag=True, help="Replace OUT if it exists.")
@click.pass_context
def synth(ctx: click.Context, out: Path, landslide_chips: int, non_landslide_chips: int, scene_size: int, seed: int,
          overwrite: bool) -> None:
    """Generate the synthetic dataset: OUT/bijie (Bijie layout) and OUT/scene (GeoTIFF + inventory)."""
    ctx.meta["output"] = out
    from lim_tf.data.synth import SynthConfig, write_synthetic

    config = SynthConfig(landslide_chips=landslide_chips, non_landslide_chips=non_landslide_chips,
                         scene_size=scene_size, scene_landslides=max(2, scene_size * scene_size // 75000), seed=seed)
    write_synthetic(out, config, overwrite)
    click.echo(f"synthetic chips: {out / 'bijie'}\nscene: {out / 'scene' / 'scene.tif'}")
