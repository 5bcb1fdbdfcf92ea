"""A shipped model on a new region with no training: as it ships, with the scene's own light
(`map --normalize scene`), with a threshold from a few labelled tiles, and calibrated on them
(`train --init-from MODEL --epochs 0`), each scored on a block of ground apart from those tiles.

Run: .venv/bin/python benchmarks/new_region.py MODEL TILES OUT [--split-column 8960] [--tiles 10]
                                                [--runtime auto]

TILES is ../shared/data/jiuzhaigou_train: it is stitched into a tune block (columns left of the
split, one tile of buffer) and a test block (right of it), each a scene (benchmarks/mosaic.py: 1 m
pixels declared). Every variant maps the whole test block with `lim-tf map` at the model's resolution
and is scored there against the stitched labels: pixel F1, precision, recall, landslide IoU, and the
polygons (labelled landslides touched, inventory polygons that touch one; a polygon of several
parts counts once). The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(__file__))

import numpy as np  # noqa: E402
import rasterio  # noqa: E402
import shapely  # noqa: E402
from common import cpu_model, lim  # noqa: E402
from mosaic import LABEL_NODATA, split_blocks, window  # noqa: E402
from rasterio.features import rasterize, shapes  # noqa: E402
from rasterio.vrt import WarpedVRT  # noqa: E402

from lim_tf.geo.vectors import read_inventory  # noqa: E402
from lim_tf.mapping.inventory import check_against  # noqa: E402
from lim_tf.metrics import Confusion, ThresholdSweep  # noqa: E402


def labels_on(grid: rasterio.DatasetReader, labels: Path) -> np.ndarray:
    """The labels on a map's grid (nearest), no data where no tile."""
    with rasterio.open(labels) as src, WarpedVRT(src, crs=grid.crs, transform=grid.transform, width=grid.width,
                                                 height=grid.height, resampling=rasterio.enums.Resampling.nearest,
                                                 nodata=LABEL_NODATA) as warped:
        return warped.read(1)


def score(out: Path, labels: Path) -> dict:
    """Pixel and polygon scores of a map folder against the stitched labels."""
    with rasterio.open(out / "landslides.tif") as mapped:
        truth = labels_on(mapped, labels)
        predicted = mapped.read(1) == 1
        transform = mapped.transform
    valid = truth != LABEL_NODATA
    pixels = Confusion.from_masks(truth == 1, predicted, valid).scores()
    reference = [shapely.geometry.shape(g) for g, v in shapes((truth == 1).astype(np.uint8), mask=truth == 1,
                                                               transform=transform) if v == 1]
    parts = [shapely.geometry.shape(g) for g, v in shapes(predicted.astype(np.uint8), mask=predicted & valid,
                                                          transform=transform) if v == 1]
    check = check_against(reference, parts)
    polygons, real = inventory_polygons(out / "inventory.gpkg", transform, truth.shape, truth == 1, valid)
    summary = json.loads((out / "summary.json").read_text())
    return {**{k: round(pixels[k], 4) for k in ("f1", "precision", "recall", "iou_landslide")},
            "landslides": check["reference_features"], "detected_share": round(check["detected_share"], 4),
            "polygons": polygons, "polygon_precision": round(real / polygons, 4) if polygons else 1.0,
            "threshold": summary["threshold"], "candidates": summary.get("candidates")}


def inventory_polygons(gpkg: Path, transform, shape: tuple[int, int], truth: np.ndarray,
                       valid: np.ndarray) -> tuple[int, int]:
    """The inventory layer's polygons on labelled ground, and how many touch a labelled landslide:
    a grouped polygon of several parts counts once, as the analyst sees it."""
    polygons = read_inventory(gpkg, None)  # its first layer: the inventory, in the map's CRS
    if not polygons:
        return 0, 0
    ids = rasterize(((g, i + 1) for i, g in enumerate(polygons)), out_shape=shape, transform=transform, fill=0,
                    dtype="int32")
    counted = np.bincount(ids[valid], minlength=len(polygons) + 1)[1:] > 0
    real = np.bincount(ids[valid & truth], minlength=len(polygons) + 1)[1:] > 0
    return int(counted.sum()), int((real & counted).sum())


def tune_threshold(tune_map: Path, tune_labels: Path, chosen: list[Path]) -> float:
    """The F1-optimal threshold over the pixels of the chosen tiles in a map of the tune block."""
    sweep = ThresholdSweep()
    with rasterio.open(tune_map / "probability.tif") as probability:
        values = probability.read(1)
        truth = labels_on(probability, tune_labels)
        scale = probability.transform.a  # metres per map pixel; the tiles' windows are in 1 m pixels
        origin_col = int(round((probability.transform.c - 300000.0) / 1.0))
        origin_row = int(round((3700000.0 - probability.transform.f) / 1.0))
        for tile in chosen:
            row0, row1, col0, col1 = window(tile)
            rows = slice(int((row0 - origin_row) / scale), int((row1 - origin_row) / scale))
            cols = slice(int((col0 - origin_col) / scale), int((col1 - origin_col) / scale))
            part, labelled = values[rows, cols], truth[rows, cols]
            ok = (labelled != LABEL_NODATA) & (part >= 0)
            sweep.add(labelled == 1, part, ok)
    return sweep.best_threshold()[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("tiles", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--split-column", type=int, default=8960)
    parser.add_argument("--tiles", dest="count", type=int, default=10, help="labelled tiles that set the threshold")
    parser.add_argument("--runtime", default="auto", help="map --runtime for every map (int8 against tensorflow)")
    args = parser.parse_args()
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    scenes = split_blocks(args.tiles, args.split_column, out, "tune")
    tune, test = scenes["tune"][2], scenes["test"][2]
    chosen = [tune[i] for i in np.random.default_rng(0).permutation(len(tune))[:args.count]]
    results: dict = {"cpu": cpu_model(), "model": args.model, "runtime": args.runtime, "tune_tiles": len(tune),
                     "test_tiles": len(test),
                     "threshold_tiles": [t.stem for t in chosen]}
    test_image, test_labels, _ = scenes["test"]

    def mapped(name: str, model: str, *options: str) -> Path:
        target = out / "maps" / name
        if not (target / "summary.json").exists():
            started = time.perf_counter()
            lim("map", test_image, model, target, "--overwrite", "--runtime", args.runtime, *options)
            results.setdefault("seconds", {})[name] = round(time.perf_counter() - started, 1)
        return target

    results["as shipped"] = score(mapped("shipped", args.model), test_labels)
    results["scene light"] = score(mapped("scene-light", args.model, "--normalize", "scene"), test_labels)
    tune_map = out / "maps" / "tune-scene-light"
    if not (tune_map / "summary.json").exists():
        lim("map", scenes["tune"][0], args.model, tune_map, "--overwrite", "--runtime", args.runtime, "--normalize",
            "scene")
    threshold = tune_threshold(tune_map, scenes["tune"][1], chosen)
    results["scene light, threshold from tiles"] = {
        **score(mapped("scene-light-tuned", args.model, "--normalize", "scene", "--threshold", f"{threshold}"),
                test_labels), "tiles": len(chosen)}
    # The tiles as records: --epochs 0 takes their light and sets threshold and confidence on them.
    folder = out / f"tiles-{len(chosen)}"
    if not folder.exists():
        for part in ("images", "masks"):
            (folder / part).mkdir(parents=True)
        for tile in chosen:
            os.symlink(tile.resolve(), folder / "images" / tile.name)
            os.symlink((args.tiles / "masks" / f"{tile.stem}.png").resolve(), folder / "masks" / f"{tile.stem}.png")
    records, run = out / f"records-{len(chosen)}", out / f"calibrated-{len(chosen)}"
    if not records.exists():
        lim("data", "build", folder, records, "--format", "folder", "--source-resolution", "1", "--resolution", "1.6",
            "--mask-values", "0=background,255=landslide", "--augment", "none", "--folds", "2", "--test-landslide", "0")
    if not (run / "run.json").exists():
        started = time.perf_counter()
        lim("train", records, run, "--init-from", args.model, "--epochs", "0")
        results.setdefault("seconds", {})["calibrate"] = round(time.perf_counter() - started, 1)
    results["calibrated on tiles (--epochs 0)"] = {**score(mapped("calibrated", str(run)), test_labels),
                                                  "tiles": len(chosen)}
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
