"""`lim-tf models`: the trained models that ship with lim-tf."""

from __future__ import annotations

import json

import click


@click.command("models")
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the model card(s) as JSON.")
def models(name: str | None, as_json: bool) -> None:
    """List the shipped models (use a NAME wherever a run folder is accepted: map, eval, export,
    train --init-from), or show NAME's model card."""
    from lim_tf import zoo

    cards = {n: zoo.card(n) for n in ([name] if name else zoo.names())}
    if as_json:
        shown = {key: card.to_json() for key, card in cards.items()}
        click.echo(json.dumps(shown if not name else shown[name], indent=2))
        return
    if not cards:
        click.echo("no shipped models in this installation")
        return
    for key, card in cards.items():
        test = card.test
        click.echo(f"{key}: {card.summary}")
        click.echo(f"  {card.network.name} width {card.network.width}, bands {','.join(card.bands)}, "
                   f"{card.resolution_m} m pixels, threshold {card.threshold:.2f}")
        click.echo(f"  held-out test ({test['data']}): F1 {test['f1']:.3f}, precision {test['precision']:.3f}, "
                   f"recall {test['recall']:.3f}, landslide IoU {test['iou_landslide']:.3f}")
        polygons = card.scores.get("test_polygons")
        if polygons and polygons.get("kept_at_kind_ratio"):
            kept = polygons["kept_at_kind_ratio"]
            click.echo(f"  its inventory there, at the real mix of ground: {kept['detected_share']:.0%} of "
                       f"{kept['landslides']} landslides detected, {kept['polygon_precision']:.0%} of polygons real "
                       f"(confidence cut {polygons['cut']:.2f}; the rest in the candidates layer)")
        click.echo(f"  data licence: {card.licence}")
        if name:
            click.echo(f"  limits: {card.limits}")
            if card.other.get("map_cost"):
                click.echo(f"  map cost: {card.other['map_cost']}")
            click.echo(f"  reproduce: {card.command}")
