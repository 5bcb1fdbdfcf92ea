"""`lim-tf export`: a thin wrapper around lim_tf.export."""

from __future__ import annotations

from pathlib import Path

import click

from lim_tf.config import ExportFormat
from lim_tf_cli.options import choice_of, trust_model_option, warn_if_shadowed


@click.command("export")
@click.argument("run")
@click.argument("out", type=click.Path(path_type=Path))
@click.option("--fold", type=click.IntRange(0), help="Export this fold's model instead of the whole ensemble.")
@click.option("--name", help="Model name, the folder TF Serving serves (default: the run folder's name).")
@click.option("--version", type=click.IntRange(1), help="Version number (default: one more than the highest).")
@trust_model_option
@click.option("--format", "kind", type=choice_of(ExportFormat), default="savedmodel",
              help="savedmodel: OUT/NAME/VERSION/ for TF Serving. onnx: OUT/NAME.onnx for ONNX Runtime and QGIS "
                   "(the Deepness plugin reads its metadata); input [batch, bands, N, N] = pixels / 255.")
@click.option("--tile-size", type=click.IntRange(32),
              help="With --format onnx: N, the input's fixed side in pixels (a multiple of 32; default 512). QGIS's "
                   "Deepness plugin cuts the scene into tiles of this size and needs a fixed square input; larger "
                   "tiles see more context and need more memory.")
@click.pass_context
def export(ctx: click.Context, run: Path, out: Path, fold: int | None, name: str | None, version: int | None,
           trust_model: bool, kind: str, tile_size: int | None) -> None:
    """Write RUN (a run folder or a shipped model's name) as a SavedModel that TF Serving loads,
    OUT/NAME/VERSION/, or as one ONNX file; either is checked against the Keras model first."""
    ctx.meta["output"] = out
    warn_if_shadowed(run)
    from lim_tf.export import export_model

    exported = export_model(run, out, kind, fold, name, version, trust=trust_model,  # type: ignore[arg-type]
                            tile_size=tile_size)
    click.echo(f"exported {', '.join(exported.models)} (mean probability) to {exported.path}")
    click.echo(f"check: max |{exported.check}| = {exported.max_abs_difference:.2e}")
    click.echo(f"signatures: {', '.join(exported.signatures)}")
