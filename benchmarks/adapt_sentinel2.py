"""A shipped model adapted to Sentinel-2 chips of Chittagong, tested on tiles apart from them (issue 17).

Run: .venv/bin/python benchmarks/adapt_sentinel2.py MODEL ../shared/data/sentinel2_chittagong OUT [--epochs 12]

The 15 development tiles (256 px at about 10 m, overlapping their neighbours by half) form columns
of the mosaic 0.0115 degrees apart. Split by block of ground: the two westernmost columns adapt
(tiles 0-3), the next column is a buffer that overlaps both sides (tiles 4 and 6), and the columns
east of it are the test block (tiles 5 and 7-14), sharing no pixel with the adaptation tiles.
Labels are sparse blobs (2 landslide, 1 non-landslide, 0 unlabelled = ignored in training), so the
scores are blob counts: the share of labelled non-landslide blobs a map flags (target <= 25 %)
and of landslide blobs it touches (target >= 70 %), zero-shot (bands 1-3 stretched to the model's
training statistics and mapped at its resolution, as benchmarks/cross_region.py does) and adapted
(`train --init-from MODEL` on records built at 10 m; the adapted model maps at 10 m). The last line
printed is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(__file__))

import numpy as np  # noqa: E402
import rasterio  # noqa: E402
import shapely  # noqa: E402
from common import cpu_model  # noqa: E402
from rasterio.features import shapes  # noqa: E402

from lim_tf.geo.vectors import read_inventory  # noqa: E402
from lim_tf.mapping.inventory import check_against  # noqa: E402

ADAPT, BUFFER = (0, 1, 2, 3), (4, 6)
LIM = [sys.executable, "-m", "lim_tf_cli.main", "-q"]


def tiles(data: Path, numbers) -> list[str]:
    return [f"{n:012d}" for n in numbers]


def test_tiles(data: Path) -> list[str]:
    every = sorted(p.stem for p in (data / "images").glob("*.tif"))
    return [t for t in every if int(t) not in ADAPT + BUFFER]


def linked(data: Path, names: list[str], folder: Path) -> Path:
    for part in ("images", "labels"):
        (folder / part).mkdir(parents=True, exist_ok=True)
        for name in names:
            target = folder / part / f"{name}.tif"
            if not target.exists():
                os.symlink((data / part / f"{name}.tif").resolve(), target)
    return folder


def lim(*args) -> None:
    subprocess.run([*LIM, *map(str, args)], check=True)


def blobs(labels: Path, value: int) -> list:
    with rasterio.open(labels) as src:
        data = src.read(1)
        return [shapely.geometry.shape(g) for g, v in shapes((data == value).astype(np.uint8), mask=data == value,
                                                               transform=src.transform) if v == 1]


def score_maps(maps: Path, data: Path, names: list[str]) -> dict:
    """Blob counts of every test tile's map against its labels (in the labels' CRS)."""
    totals = {"landslide_blobs": 0, "touched": 0, "non_landslide_blobs": 0, "flagged": 0, "polygons": 0}
    for name in names:
        labels = data / "labels" / f"{name}.tif"
        with rasterio.open(labels) as src:
            crs = src.crs
        inventory = maps / name / "inventory.gpkg"
        predicted = read_inventory(inventory, crs) if inventory.exists() else []
        landslides, others = blobs(labels, 2), blobs(labels, 1)
        totals["landslide_blobs"] += len(landslides)
        totals["non_landslide_blobs"] += len(others)
        totals["touched"] += check_against(landslides, predicted)["detected"]
        totals["flagged"] += check_against(others, predicted)["detected"]
        totals["polygons"] += len(predicted)
    totals["touched_share"] = totals["touched"] / max(totals["landslide_blobs"], 1)
    totals["flagged_share"] = totals["flagged"] / max(totals["non_landslide_blobs"], 1)
    return totals


def zero_shot(model: str, data: Path, names: list[str], out: Path) -> dict:
    from cross_region import sentinel2

    from lim_tf.ensemble import load_models

    _, state = load_models(Path(model))
    folder = linked(data, names, out / "zero-shot-tiles")
    return sentinel2(Path(model), folder, out / "zero-shot", state.threshold)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="a run folder or a shipped model's name")
    parser.add_argument("data", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--steps", type=int, default=20, help="training steps per epoch")
    parser.add_argument("--learning-rate", type=float, help="default: adaptation's own (a tenth of the preset's)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    names = test_tiles(args.data)
    report: dict = {"cpu": cpu_model(), "model": args.model, "epochs": args.epochs, "steps": args.steps,
                    "learning_rate": args.learning_rate, "adapt_tiles": tiles(args.data, ADAPT),
                    "buffer_tiles": tiles(args.data, BUFFER), "test_tiles": names}
    adapt = linked(args.data, tiles(args.data, ADAPT), args.out / "adapt-tiles")
    records, run = args.out / "records", args.out / "adapted"
    lim("data", "build", adapt, records, "--format", "geotiff", "--bands", "1,2,3", "--mask-values",
        "2=landslide,1=background,0=ignore", "--nodata", 0, "--resolution", 10, "--chip-mode", "grid",
        "--chip-size", 128, "--test-landslide", 0, "--folds", 2, "--overwrite")
    started = time.perf_counter()
    if not (run / "run.json").exists():
        lim("train", records, run, "--init-from", args.model, "--preset", "cpu", "--epochs", args.epochs,
            "--steps-per-epoch", args.steps, "--validation-every", 2, "--freeze-encoder-epochs", 2, "--tile", 128,
            *(["--learning-rate", args.learning_rate] if args.learning_rate else []))
    report["train_minutes"] = round((time.perf_counter() - started) / 60, 1)
    maps = args.out / "adapted-maps"
    for name in names:
        lim("map", args.data / "images" / f"{name}.tif", run, maps / name, "--bands", "1,2,3", "--nodata", 0,
            "--overwrite")
    report["adapted"] = score_maps(maps, args.data, names)
    report["zero_shot"] = zero_shot(args.model, args.data, names, args.out)
    print(json.dumps(report))


if __name__ == "__main__":
    main()
