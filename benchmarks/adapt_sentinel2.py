"""A shipped model adapted to Sentinel-2 chips of Chittagong, tested on ground apart from them (issue 17).

Run: .venv/bin/python benchmarks/adapt_sentinel2.py MODEL ../shared/data/sentinel2_chittagong OUT
     [--adapt west|east] [--epochs 24] [--no-photometric] [--augment none]

The 15 development tiles (256 px at about 10 m, overlapping their neighbours by half) form columns
of the mosaic 0.0115 degrees apart. Split by block of ground: the two westernmost columns (tiles
0-3) and the columns east of a buffer column (tiles 5 and 7-14; the buffer, tiles 4 and 6,
overlaps both) share no pixel. One block adapts (`--adapt`), the other is the test block.

The test block is scored as one ground mosaic (image and labels merged, mapped once, as a user
would map the area), so a blob that two overlapping tiles both hold counts once. Labels are sparse
blobs (2 landslide, 1 non-landslide, 0 unlabelled = ignored in training), so the scores are blob
counts: the share of labelled non-landslide blobs the map flags (target <= 25 %) and of landslide
blobs it touches (target >= 70 %), with the share of the block's valid ground the map calls
landslide beside them (a map that flags a whole hillside touches every blob on it). Three maps:
zero-shot (bands 1-3 stretched to the model's training statistics and mapped at its resolution,
as benchmarks/cross_region.py does), adapted (`train --init-from MODEL` on records of the adapting
block built at 10 m; the adapted model maps at 10 m), and a reference that is not an FCN: a
per-pixel logistic regression on the adapting block's labelled pixels (RGB, brightness and its
local mean and contrast), which says how far the labels can be told apart from the pixels at all.
The last line printed is JSON.
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
import rasterio.merge  # noqa: E402
import shapely  # noqa: E402
from common import cpu_model, lim  # noqa: E402
from cross_region import blobs, sentinel2  # noqa: E402
from rasterio.features import shapes  # noqa: E402
from scipy import ndimage  # noqa: E402

from lim_tf.geo.vectors import read_inventory  # noqa: E402
from lim_tf.mapping.inventory import check_against  # noqa: E402

BLOCKS = {"west": (0, 1, 2, 3), "east": (5, 7, 8, 9, 10, 11, 12, 13, 14)}
BUFFER = (4, 6)


def tiles(numbers) -> list[str]:
    return [f"{n:012d}" for n in numbers]


def linked(data: Path, names: list[str], folder: Path) -> Path:
    for part in ("images", "labels"):
        (folder / part).mkdir(parents=True, exist_ok=True)
        for name in names:
            target = folder / part / f"{name}.tif"
            if not target.exists():
                os.symlink((data / part / f"{name}.tif").resolve(), target)
    return folder


def mosaic(data: Path, names: list[str], folder: Path) -> Path:
    """The block's images and labels merged on one grid (images/block.tif, labels/block.tif)."""
    for part in ("images", "labels"):
        target = folder / part / "block.tif"
        if target.exists():
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        sources = [data / part / f"{name}.tif" for name in names]
        merged, transform = rasterio.merge.merge(sources, nodata=0)  # overlapping tiles hold equal pixels
        with rasterio.open(sources[0]) as src:
            profile = src.profile | {"height": merged.shape[1], "width": merged.shape[2], "transform": transform,
                                     "nodata": 0}
        partial = target.with_suffix(".part.tif")
        with rasterio.open(partial, "w", **profile) as dst:
            dst.write(merged)
        partial.replace(target)
    return folder



def valid_area(block: Path) -> float:
    """Ground with image data, in the CRS's units squared (so shares need no projection)."""
    with rasterio.open(block / "images" / "block.tif") as src:
        valid = (src.read(1) != 0).sum()
        return float(valid * abs(src.transform.a * src.transform.e))


def score(predicted: list, block: Path) -> dict:
    labels = block / "labels" / "block.tif"
    landslides, others = blobs(labels, 2), blobs(labels, 1)
    touched = check_against(landslides, predicted)["detected"]
    flagged = check_against(others, predicted)["detected"]
    area = float(shapely.union_all(predicted).area) if predicted else 0.0
    return {"landslide_blobs": len(landslides), "touched": touched,
            "touched_share": round(touched / max(len(landslides), 1), 3),
            "non_landslide_blobs": len(others), "flagged": flagged,
            "flagged_share": round(flagged / max(len(others), 1), 3), "polygons": len(predicted),
            "area_flagged_share": round(area / valid_area(block), 3)}


def score_map(folder: Path, block: Path) -> dict:
    with rasterio.open(block / "labels" / "block.tif") as src:
        crs = src.crs
    inventory = folder / "inventory.gpkg"
    return score(read_inventory(inventory, crs) if inventory.exists() else [], block)


def zero_shot(model: str, block: Path, out: Path) -> dict:
    from lim_tf.trained.ensemble import load_models

    _, state = load_models(Path(model))
    sentinel2(Path(model), block, out / "zero-shot", state.threshold)
    return score_map(out / "zero-shot" / "s2-maps" / "block", block)


def features(image: np.ndarray) -> np.ndarray:
    """Per-pixel RGB, brightness, its 7-px mean and its 15-px contrast: what a 10 m blob shows."""
    rgb = image[:3].astype(np.float64)
    brightness = rgb.mean(0)
    return np.stack([*rgb, brightness, ndimage.uniform_filter(brightness, 7),
                     brightness - ndimage.uniform_filter(brightness, 15)], -1)


def pixel_reference(adapt: Path, block: Path, out: Path) -> dict:
    """A logistic regression on the adapting tiles' labelled pixels, mapped over the test mosaic."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    samples, targets = [], []
    for image in sorted((adapt / "images").glob("*.tif")):
        with rasterio.open(image) as src, rasterio.open(adapt / "labels" / image.name) as lab:
            labels = lab.read(1)
            samples.append(features(src.read())[labels > 0])
            targets.append(labels[labels > 0] == 2)
    classifier = make_pipeline(StandardScaler(), LogisticRegression(class_weight="balanced", max_iter=2000))
    classifier.fit(np.concatenate(samples), np.concatenate(targets))
    with rasterio.open(block / "images" / "block.tif") as src:
        image, transform = src.read(), src.transform
    grid = features(image)
    landslide = classifier.predict(grid.reshape(-1, grid.shape[-1])).reshape(grid.shape[:2]) & (image[0] != 0)
    predicted = [shapely.geometry.shape(g) for g, v in shapes(landslide.astype(np.uint8), mask=landslide,
                                                            transform=transform) if v == 1]
    return score(predicted, block)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="a run folder or a shipped model's name")
    parser.add_argument("data", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--adapt", choices=sorted(BLOCKS), default="west", help="the block that adapts")
    parser.add_argument("--epochs", type=int, default=24)
    parser.add_argument("--steps", type=int, default=20, help="training steps per epoch")
    parser.add_argument("--learning-rate", type=float, help="default: adaptation's own (a tenth of the preset's)")
    parser.add_argument("--photometric", action=argparse.BooleanOptionalAction, default=True,
                        help="online brightness and contrast changes (they hide a 10 m blob's only cue)")
    parser.add_argument("--freeze-encoder-epochs", type=int, default=2,
                        help="epochs that train the decoder only (as many as --epochs: the encoder never moves)")
    parser.add_argument("--augment", default="lr_flip_mean,ud_flip_gamma,mirror_noise", help="offline recipes")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    test = "east" if args.adapt == "west" else "west"
    report: dict = {"cpu": cpu_model(), "model": args.model, "epochs": args.epochs, "steps": args.steps,
                    "learning_rate": args.learning_rate, "photometric": args.photometric, "augment": args.augment,
                    "freeze_encoder_epochs": args.freeze_encoder_epochs,
                    "adapt_tiles": tiles(BLOCKS[args.adapt]), "buffer_tiles": tiles(BUFFER),
                    "test_tiles": tiles(BLOCKS[test])}
    adapt = linked(args.data, tiles(BLOCKS[args.adapt]), args.out / "adapt-tiles")
    block = mosaic(args.data, tiles(BLOCKS[test]), args.out / "test-block")
    report["pixel_reference"] = pixel_reference(adapt, block, args.out)
    print(json.dumps({"pixel_reference": report["pixel_reference"]}), flush=True)
    records, run = args.out / "records", args.out / "adapted"
    lim("data", "build", adapt, records, "--format", "geotiff", "--bands", "1,2,3", "--mask-values",
        "2=landslide,1=background,0=ignore", "--nodata", 0, "--resolution", 10, "--chip-mode", "grid",
        "--chip-size", 128, "--test-landslide", 0, "--folds", 2, "--augment", args.augment, "--overwrite")
    started = time.perf_counter()
    if not (run / "run.json").exists():
        lim("train", records, run, "--init-from", args.model, "--preset", "cpu", "--epochs", args.epochs,
            "--steps-per-epoch", args.steps, "--validation-every", 2, "--freeze-encoder-epochs", args.freeze_encoder_epochs, "--tile", 128,
            "--photometric" if args.photometric else "--no-photometric",
            *(["--learning-rate", args.learning_rate] if args.learning_rate else []))
    report["train_minutes"] = round((time.perf_counter() - started) / 60, 1)
    lim("map", block / "images" / "block.tif", run, args.out / "adapted-map", "--bands", "1,2,3", "--nodata", 0,
        "--overwrite")
    report["adapted"] = score_map(args.out / "adapted-map", block)
    report["zero_shot"] = zero_shot(args.model, block, args.out)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
