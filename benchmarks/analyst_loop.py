"""One round of the analyst's loop, played by a script, measured on a second scene.

Run: .venv/bin/python benchmarks/analyst_loop.py MODEL OUT [--epochs 6]
Two synthetic scenes of the same kind of ground (lim-tf data synth, seeds 1 and 2) stand for a
user's region: scene A is mapped with MODEL (a run, a .keras file or a shipped name); the script
plays the analyst on A's inventory.gpkg, from A's known truth: polygons that touch a true landslide
are marked `confirmed`, the others `rejected`, and the true landslides the map missed are drawn in
as `confirmed`. `data build --review` turns that into records, `train --init-from MODEL` adapts the
model to them, and scene B (never reviewed) is mapped before and after. Printed: B's false-positive
area per km² of non-landslide ground, the share of its landslides detected, and the polygons flagged
that touch no landslide, before and after; the last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402
import pyogrio.raw  # noqa: E402
import rasterio  # noqa: E402
import shapely  # noqa: E402

sys.path.insert(0, os.path.dirname(__file__))
from common import cpu_model, lim  # noqa: E402


def play_analyst(inventory: Path, truth: Path, edited: Path) -> dict[str, int]:
    """confirmed / rejected from the truth, missed landslides drawn in; written as the analyst's file."""
    meta, _, geometry, fields = pyogrio.raw.read(inventory, layer="inventory")
    mapped = list(shapely.from_wkb(geometry)) if len(geometry) else []
    _, _, true_geometry, _ = pyogrio.raw.read(truth)
    true = list(shapely.from_wkb(true_geometry))
    reviews = ["confirmed" if any(p.intersects(t) for t in true) else "rejected" for p in mapped]
    missed = [t for t in true if not any(t.intersects(p) for p in mapped)]
    geometries = mapped + missed
    reviews += ["confirmed"] * len(missed)
    pyogrio.raw.write(edited, shapely.to_wkb(geometries), [np.arange(1, len(geometries) + 1),
                                                           np.array(reviews, dtype=object)],
                      ["id", "review"], driver="GPKG", geometry_type="Polygon", crs=meta["crs"])
    return {"confirmed": reviews.count("confirmed") - len(missed), "rejected": reviews.count("rejected"),
            "drawn": len(missed)}


def score(map_folder: Path, labels: Path) -> dict[str, float]:
    """False-positive area per km² of non-landslide ground, landslides detected, polygons touching none."""
    with rasterio.open(map_folder / "landslides.tif") as mapped, rasterio.open(labels) as truth:
        if mapped.shape != truth.shape:  # mapped at the model's resolution: bring the truth to its grid
            truth_data = truth.read(1, out_shape=mapped.shape, resampling=rasterio.enums.Resampling.nearest)
        else:
            truth_data = truth.read(1)
        predicted, true = mapped.read(1) == 1, truth_data == 1
    ground = (~true).sum()
    check = json.loads((map_folder / "check.json").read_text())
    return {"false_positive_m2_per_km2": float(1e6 * (predicted & ~true).sum() / max(ground, 1)),
            "detected_share": check["detected_share"], "false_alarm_polygons": check["false_alarms"],
            "polygons": check["predicted_polygons"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("out", type=Path)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--resolution", type=float, default=1.6, help="the model's resolution (records are built at it)")
    parser.add_argument("--scene-size", type=int, default=1536)
    args = parser.parse_args()
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    for name, seed in (("a", 1), ("b", 2)):
        if not (out / name).exists():
            lim("data", "synth", out / name, "--landslide-chips", 2, "--non-landslide-chips", 2, "--scene-size",
                args.scene_size, "--seed", seed)
    scene = {n: out / n / "scene" / "scene.tif" for n in "ab"}
    truth = {n: out / n / "scene" / "inventory.gpkg" for n in "ab"}
    lim("map", scene["a"], args.model, out / "map-a", "--min-area", 20, "--check", truth["a"], "--overwrite")
    review = play_analyst(out / "map-a" / "inventory.gpkg", truth["a"], out / "edited-a.gpkg")
    lim("map", scene["b"], args.model, out / "map-b-before", "--min-area", 20, "--check", truth["b"], "--overwrite")
    lim("data", "build", scene["a"], out / "reviewed", "--format", "geotiff", "--labels", out / "edited-a.gpkg",
        "--review", "--chip-mode", "grid", "--chip-size", 256, "--resolution", args.resolution, "--test-landslide", 0,
        "--test-non-landslide", 0, "--folds", 2, "--overwrite")
    started = time.time()
    # The shipped model's own recipe (cross-entropy), at its resolution: only the data is new.
    lim("train", out / "reviewed", out / "adapted", "--init-from", args.model, "--preset", "cpu", "--epochs",
        args.epochs, "--steps-per-epoch", 20, "--validation-every", 2, "--freeze-encoder-epochs", 2)
    minutes = (time.time() - started) / 60
    lim("map", scene["b"], out / "adapted", out / "map-b-after", "--min-area", 20, "--check", truth["b"],
        "--overwrite")
    labels_b = out / "b" / "scene" / "labels.tif"
    before, after = score(out / "map-b-before", labels_b), score(out / "map-b-after", labels_b)
    for label, result in (("before", before), ("after", after)):
        print(f"scene B {label}: {result['false_positive_m2_per_km2']:,.0f} m² of false positives per km² of ground, "
              f"{result['detected_share']:.0%} of landslides detected, {result['false_alarm_polygons']} of "
              f"{result['polygons']} polygons touch no landslide", flush=True)
    print(json.dumps({"cpu": cpu_model(), "model": args.model, "review_of_scene_a": review,
                      "train_minutes": minutes, "epochs": args.epochs, "scene_b_before": before,
                      "scene_b_after": after}))


if __name__ == "__main__":
    main()
