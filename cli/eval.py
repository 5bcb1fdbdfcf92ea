"""`lim-tf eval`: a thin wrapper around lim_tf.evaluate."""

from __future__ import annotations

from pathlib import Path

import click

from lim_tf.config import Split
from lim_tf_cli.options import choice_of, trust_model_option, tta_option, warn_if_shadowed


@click.command("eval")
@click.argument("runs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path),
              help="Output folder. Default: RUN/eval-SPLIT for one run; required for several.")
@click.option("--records", type=click.Path(path_type=Path), help="Record set (default: the one the run trained on).")
@click.option("--split", type=choice_of(Split), default="test",
              help="Record split: test (held out), val (the --fold's validation fold) or all folds.")
@click.option("--fold", type=click.IntRange(0), help="Evaluate this fold's model instead of the ensemble of all folds.")
@click.option("--images", type=click.Path(path_type=Path),
              help="Evaluate on a folder instead of records: the Bijie layout (landslide/image + mask, "
                   "non-landslide/image without masks) or images/ + masks/. Images are brought to the model's "
                   "ground resolution, as 'lim-tf map' does with scenes.")
@click.option("--mask-values", help="With --images: mask value map, e.g. '255=landslide,0=background'.")
@click.option("--source-resolution", type=click.FloatRange(min=0, min_open=True),
              help="With --images: their pixel size in metres when the files do not say (Bijie: 0.8).")
@tta_option
@trust_model_option
@click.option("--threshold", default="run",
              help="Probability threshold: 'run' (the one training chose on its validation folds), a number, or "
                   "'optimal': the F1-optimal one recomputed on the validation folds of the records the run trained "
                   "on (never on the evaluated data).")
@click.option("--figures", type=click.IntRange(0), default=8, help="Overlay figures to draw (TP green, FP red, FN blue).")
@click.option("--min-overlap", type=click.FloatRange(0, 1), default=0.0,
              help="Share of a labelled landslide that must be predicted for it to count as detected.")
@click.option("--batch-size", type=click.IntRange(1), default=8, help="Images per prediction batch.")
@click.option("--kind-ratio", type=click.FloatRange(min=0, min_open=True),
              help="Also score as if non-landslide chips were this many per landslide chip (the region's real mix; "
                   "Bijie: 2.6): precision and F1 fall as empty ground grows. Default: the ratio the records' "
                   "source documents, if any.")
@click.option("--min-alarm-area", type=click.FloatRange(0), default=50.0,
              help="Image-level scores: a predicted region this large (m²) on a non-landslide chip is a false alarm.")
@click.option("--uncertainty", is_flag=True,
              help="Also report how the error rate rises with uncertainty (the spread over the four flips and the "
                   "fold models; 4x slower): the reliability table in metrics.json.")
@click.option("--overwrite", is_flag=True, help="Replace the output folder if it exists.")
@click.pass_context
def evaluate(ctx: click.Context, runs: tuple[Path, ...], out: Path | None, records: Path | None, split: str,
             fold: int | None, images: Path | None, mask_values: str | None, source_resolution: float | None,
             tta: int | None, trust_model: bool, threshold: str, figures: int, min_overlap: float, batch_size: int,
             kind_ratio: float | None, min_alarm_area: float, uncertainty: bool, overwrite: bool) -> None:
    """Score RUNS (a fold model or the K-fold ensemble) and write metrics, per-image rows and figures.

    Scores cover every chip of the data (landslide and non-landslide), then each kind apart; the
    landslide-only rows are the FCN-FL paper's protocol. Several RUNS also give comparison.md/.csv
    in the form of the paper's Tables 3 and 4."""
    ctx.meta["output"] = out or f"{runs[0]}/eval-*"
    for run in runs:
        warn_if_shadowed(run)
    from lim_tf.data.sample import parse_value_map
    from lim_tf.evaluate import EvalRequest, comparison_table, parse_threshold, score_runs

    request = EvalRequest(records=records, images=images, mask_values=parse_value_map(mask_values or ""),
                          source_resolution=source_resolution, split=split, fold=fold,  # type: ignore[arg-type]
                          threshold=parse_threshold(threshold), tta=tta, trust_model=trust_model, figures=figures,
                          batch_size=batch_size, min_overlap=min_overlap, kind_ratio=kind_ratio,
                          min_alarm_area=min_alarm_area, uncertainty=uncertainty)
    metrics, out = score_runs(list(runs), out, request, overwrite, ctx.obj["progress"])
    click.echo(comparison_table(metrics)[0])
    for name, scores in metrics.items():
        group = scores.get("polygons", {}).get("group")
        if group:  # say what a polygon is where it is not simply a region at the threshold
            click.echo(f"{name}: polygons group pixels down to probability {group:.3f} "
                       "(docs/evaluation.md, grouped polygons)")
    click.echo(f"reports: {out}")
