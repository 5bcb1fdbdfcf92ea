"""Turn a finished experiment run into a shipped model: lim_tf/zoo/NAME.weights.h5 (float16 kernels unless --dtype, no
optimizer state), NAME.json (the model card) and NAME.md (the card rendered for the README).

Run: .venv/bin/python benchmarks/make_zoo.py EXPERIMENT_OUT RUN NAME DATA --card CARD.yaml

EXPERIMENT_OUT is benchmarks/experiment.py's output folder (run with --test): the card's scores are
copied from its results.json, never typed. CARD.yaml holds the words (summary, training data,
licence, limits, the command that reproduced the run). DATA is the source folder of the records (the
Bijie layout): a small fixed set of its held-out test chips is scored with the float16 weights, and
tests/test_zoo.py checks that the shipped model reproduces that score.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import yaml  # noqa: E402
from PIL import Image  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from common import cpu_model  # noqa: E402

from lim_tf import zoo  # noqa: E402
from lim_tf.evaluate import EvalRequest, evaluate_run  # noqa: E402
from lim_tf.models.precision import as_float32  # noqa: E402
from lim_tf.trained.ensemble import load_run  # noqa: E402
from lim_tf.zoo.weights import save_weights  # noqa: E402

SCORES = ("f1", "precision", "recall", "iou_landslide", "miou", "false_positive_m2_per_km2")
FIXED_PER_KIND = 6


def fixed_set(run: Path) -> list[str]:
    """The first few landslide and non-landslide chips of the run's held-out test split, by id."""
    with (run / "eval-test" / "per_image.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    chosen = []
    for kind in ("landslide", "non_landslide"):
        chosen += sorted(r["id"].rsplit("/", 1)[-1] for r in rows if r["kind"] == kind)[:FIXED_PER_KIND]
    return chosen


def fixed_folder(data: Path, ids: list[str], folder: Path) -> Path:
    """A Bijie-layout folder of links to the fixed set's files (images, and masks of landslides)."""
    for chip in ids:
        kind = "landslide" if chip.startswith("ls_") else "non-landslide"
        for part in ("image", "mask") if kind == "landslide" else ("image",):
            (folder / kind / part).mkdir(parents=True, exist_ok=True)
            os.symlink((data / kind / part / f"{chip}.png").resolve(), folder / kind / part / f"{chip}.png")
    return folder


def score_fixed_set(model: str, data: Path, ids: list[str]) -> dict[str, float]:
    """Scores of `model` (a run or a zoo name) on the fixed set, at its own threshold."""
    with tempfile.TemporaryDirectory() as temporary:
        folder = fixed_folder(data, ids, Path(temporary) / "fixed")
        metrics = evaluate_run(model, Path(temporary) / "eval", EvalRequest(images=folder, figures=0),
                               progress=False)
    return {key: metrics[key] for key in ("f1", "precision", "recall", "iou_landslide")}


def score_at_kind_ratio(model: str, records: Path) -> dict[str, float]:
    """The shipped model on the run's test split, weighted to the source's documented mix of chip kinds."""
    from lim_tf.data.sources import KIND_RATIOS

    with tempfile.TemporaryDirectory() as temporary:
        metrics = evaluate_run(model, Path(temporary) / "eval", EvalRequest(records=records, figures=0,
                                                                             kind_ratio=KIND_RATIOS["bijie"]),
                               progress=False)
    weighted = metrics["at_kind_ratio"]
    return {key: weighted[key] for key in ("kind_ratio", *SCORES[:-2], "false_positive_m2_per_km2")}


def render(card: dict) -> str:
    """The card as Markdown."""
    test, lines = card["scores"]["test"], [f"### `{card['name']}`: {card['summary']}", ""]
    lines += [f"- **Architecture**: {card['model']['name']}, width {card['model']['width']}, VGG16 encoder "
              f"{'with' if card['model']['batch_norm'] else 'without'} batch normalisation; "
              f"{card['parameters']:,} parameters; convolution kernels stored as {card.get('weights_dtype', 'float16')}, "
              f"the rest as float32 ({card['weights_kb']} KB; predictions within "
              f"{card['float16_max_difference']:.1e} of float32).",
              f"- **Input**: bands {', '.join(card['bands'])} at **{card['resolution_m']} m** per pixel; "
              f"{card['preprocessing']}",
              f"- **Threshold**: {card['threshold']:.2f} ({card['threshold_source']}).",
              f"- **Trained on**: {card['training_data']}",
              f"- **Held-out test** ({test['data']}), threshold from validation:",
              "", "  | data | F1 | precision | recall | landslide IoU | false positives m²/km² |",
              "  |---|---|---|---|---|---|"]
    ratio = card["scores"]["test_at_kind_ratio"]["kind_ratio"]
    turns = card.get("turns", 1)
    default = "both kinds" if turns == 1 else f"both kinds, {turns} quarter turns averaged (the default)"
    for label, key in ((default, "test"), ("both kinds, one pass (--tta 1)", "test_one_pass"),
                       ("both kinds, four quarter turns (--tta)", "test_tta"),
                       (f"both kinds weighted to the source's {ratio:.1f} : 1 mix", "test_at_kind_ratio"),
                       ("landslide chips only", "landslide")):
        s = card["scores"].get(key)
        if s is None:
            continue
        lines.append(f"  | {label} | {s['f1']:.3f} | {s['precision']:.3f} | {s['recall']:.3f} | "
                     f"{s['iou_landslide']:.3f} | {s['false_positive_m2_per_km2']:,.0f} |")
    polygons = card["scores"].get("test_polygons")
    if polygons:
        every, kept = polygons["all"], polygons["kept"]
        every_mix, kept_mix = polygons.get("all_at_kind_ratio") or every, polygons.get("kept_at_kind_ratio") or kept
        lines += ["", f"- **Polygons** on the held-out test split ({polygons['rule']}): every polygon detects "
                  f"{every['detected']} of {every['landslides']} landslides ({every['detected_share']:.0%}), "
                  f"{every['polygon_precision']:.0%} of polygons real ({every_mix['polygon_precision']:.0%} at the "
                  f"{ratio:.1f} : 1 mix); the inventory, above the confidence cut {polygons['cut']:.2f} learnt on "
                  f"validation, detects {kept['detected']} ({kept['detected_share']:.0%}) with "
                  f"{kept['polygon_precision']:.0%} of its polygons real ({kept_mix['polygon_precision']:.0%} at "
                  "the mix); the rest are in the `candidates` layer."]
        group = (card.get("confidence") or {}).get("group")
        if group is not None:
            lines[-1] += (f" Pixels down to probability {group:.2f} ({group / card['threshold']:.2f} of the threshold) "
                          "group the fragments of one landslide into one polygon, drawn by its pixels at the "
                          "threshold (or whole where none reaches it) and rated on the whole group.")
    if card.get("map_cost"):
        lines += ["", f"- **Map cost**: {card['map_cost']}"]
    lines += ["", f"- **Trained**: {card['training']['minutes']:.0f} minutes on {card['training']['cpu']} "
              f"({card['training']['epochs']} epochs).",
              f"- **Limits**: {card['limits']}", f"- **Data licence**: {card['licence']}",
              f"- **Reproduce** (a source checkout of lim-tf with the Bijie data beside it): `{card['command']}`", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("experiment", type=Path)
    parser.add_argument("run")
    parser.add_argument("name")
    parser.add_argument("data", type=Path)
    parser.add_argument("--card", type=Path, required=True)
    parser.add_argument("--dtype", choices=("float16", "float32"), default="float16",
                        help="how convolution kernels are stored (float32 where float16 moves predictions by 1e-3 or more)")
    args = parser.parse_args()
    results = json.loads((args.experiment / "results.json").read_text())[args.run]
    run = args.experiment / "runs" / args.run
    ensemble, state = load_run(run, 0)
    model = as_float32(ensemble.models[0])
    config = yaml.safe_load((run / "config.yaml").read_text())
    words = yaml.safe_load(args.card.read_text())
    target = zoo.ZOO / f"{args.name}.weights.h5"
    save_weights(model, target, args.dtype)
    test = results["test"]
    card = {"name": args.name, **words,
            "model": {"name": config["model"], "width": config["width"], "batch_norm": config["encoder_bn"]},
            "bands": list(state.band_names), "resolution_m": state.resolution, "threshold": state.threshold,
            "threshold_source": state.threshold_source,
            "preprocessing": "raw pixel values (uint8 RGB); the per-band normalisation of the training records is "
                             "inside the model; scenes are brought to the model's resolution by lim-tf map",
            # The input normalisation is part of the architecture, not of the weights: the card carries it.
            "normalization": {"mean": np.ravel(model.get_layer("normalize").mean).astype(float).tolist(),
                              "std": np.sqrt(np.ravel(model.get_layer("normalize").variance)).astype(float).tolist()},
            "parameters": int(model.count_params()), "weights_kb": round(target.stat().st_size / 1024),
            "weights_dtype": args.dtype,
            "scores": {"test": {**{k: test[k] for k in SCORES if k in test}, "data": words["test_data"]},
                       "test_tta": {k: results["test_tta"][k] for k in SCORES if k in results["test_tta"]},
                       "landslide": test["landslide_chips"], "validation": results["validation"]},
            "training": {"minutes": results["train_seconds"] / 60, "cpu": words.get("cpu") or cpu_model(),
                         "epochs": config["epochs"], "config": config}}
    (zoo.ZOO / f"{args.name}.json").write_text(json.dumps(card, indent=2) + "\n")
    # The float16 weights against the float32 model they came from, on real chips.
    ids = fixed_set(run)
    shipped, _ = zoo.load(args.name)
    kind = lambda i: "landslide" if i.startswith("ls_") else "non-landslide"  # noqa: E731
    images = [np.asarray(Image.open(args.data / kind(i) / "image" / f"{i}.png").convert("RGB"), np.float32)[:256, :256]
              for i in ids[:4]]
    difference = max(float(np.abs(shipped.predict_on_batch(x[None]) - model.predict_on_batch(x[None])).max())
                     for x in images)
    if difference >= 1e-3:
        target.unlink()
        raise SystemExit(f"{args.dtype} weights move predictions by {difference:.2g} (over 1e-3); not shipped: "
                         "store them as float32 (--dtype float32)")
    card["float16_max_difference"] = difference
    card["scores"]["test_at_kind_ratio"] = score_at_kind_ratio(args.name, Path(state.records))
    card["fixed_set"] = {"ids": ids, "data": "../shared/data/bijie (held-out test chips)",
                         "scores": score_fixed_set(args.name, args.data, ids)}
    (zoo.ZOO / f"{args.name}.json").write_text(json.dumps(card, indent=2) + "\n")
    (zoo.ZOO / f"{args.name}.md").write_text(render(card))
    print(json.dumps({"name": args.name, "float16_max_difference": difference, "fixed_set": card["fixed_set"],
                      "weights_kb": card["weights_kb"]}))


if __name__ == "__main__":
    main()
