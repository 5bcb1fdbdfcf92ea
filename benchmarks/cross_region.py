"""A trained run scored on other regions and sensors (no training on them, thresholds from its own
validation folds).

Run: .venv/bin/python benchmarks/cross_region.py RUN OUT [--shared ../shared/data]

- Jiuzhaigou (2017 earthquake, orthophoto tiles with masks; every tile holds a landslide): pixel
  scores through `eval --images`. The tiles' pixel size is not stated ("sub-metre"), so they are
  scored as 0.5 m and as 1 m, brought to the run's resolution.
- Sentinel-2, Chittagong (10 m, georeferenced; labels are sparse blobs, not delineations): each
  chip's bands 1-3 are stretched to the training imagery's statistics as `map --sentinel2` does,
  mapped at the run's resolution, and checked at object level: the share of labelled landslide
  blobs the map touches, and the share of labelled non-landslide blobs it flags.
The last line printed is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.dirname(__file__))

import numpy as np  # noqa: E402
import rasterio  # noqa: E402
import shapely  # noqa: E402
from common import cpu_model  # noqa: E402
from rasterio.features import shapes  # noqa: E402

from lim_tf.data.manifest import BandStatistics, load_manifest  # noqa: E402
from lim_tf.evaluate import EvalRequest, evaluate_run, validation_threshold  # noqa: E402
from lim_tf.mapping.config import MapConfig  # noqa: E402
from lim_tf.mapping.inventory import check_against  # noqa: E402
from lim_tf.mapping.scene_map import map_scene  # noqa: E402
from lim_tf.mapping.sentinel2 import prepare_sentinel2  # noqa: E402
from lim_tf.trained.ensemble import load_models, read_run_state  # noqa: E402

PICK = ("f1", "precision", "recall", "iou_landslide", "false_positive_m2_per_km2")


def jiuzhaigou(run: Path, folder: Path, out: Path, threshold: float) -> dict:
    results = {}
    for resolution in (0.5, 1.0):
        metrics = evaluate_run(run, out / f"jiuzhaigou-{resolution}m", EvalRequest(
            images=folder, source_resolution=resolution, threshold=threshold, figures=6), overwrite=True,
            progress=False)
        results[f"{resolution} m"] = {k: metrics[k] for k in PICK} | {"images": metrics["images"]}
    return results


def blobs(labels: Path, value: int) -> list:
    with rasterio.open(labels) as src:
        data = src.read(1)
        return [shapely.geometry.shape(g) for g, v in shapes((data == value).astype(np.uint8), mask=data == value,
                                                               transform=src.transform) if v == 1]


def training_statistics(run: Path) -> list[BandStatistics]:
    """The band statistics the model normalises by: its records' manifest, or a shipped model's card."""
    from lim_tf import zoo

    if zoo.is_zoo_name(run):
        card = zoo.card(str(run))
        return [BandStatistics(band, m, s, 0.0, 255.0) for band, m, s in zip(card.bands, card.mean, card.std)]
    return list(load_manifest(Path(read_run_state(run).records)).band_statistics)


def sentinel2(run: Path, folder: Path, out: Path, threshold: float) -> dict:
    statistics = training_statistics(run)
    resolution = load_models(Path(run))[1].resolution  # once: the loop below maps many chips
    landslides, others, detected, flagged, polygons = 0, 0, 0, 0, 0
    for image in sorted((folder / "images").glob("*.tif")):
        bands = []
        with rasterio.open(image) as src:  # one file per band, as prepare_sentinel2 reads a .SAFE
            for index in (1, 2, 3):
                path = out / "s2-bands" / f"{image.stem}_B{index}.tif"
                path.parent.mkdir(parents=True, exist_ok=True)
                with rasterio.open(path, "w", **(src.profile | {"count": 1, "nodata": 0})) as dst:
                    dst.write(src.read(index), 1)
                bands.append(path)
        prepared = out / "s2-prepared" / f"{image.stem}.tif"
        prepared.parent.mkdir(parents=True, exist_ok=True)
        try:
            prepare_sentinel2(bands, prepared, resolution, statistics, boa_offset=0.0)
        except Exception as error:  # noqa: BLE001 - a chip of nodata only: nothing to map
            print(f"{image.name}: skipped ({error})", flush=True)
            continue
        summary = map_scene(prepared, run, out / "s2-maps" / image.stem, MapConfig(threshold=threshold, nodata=0),
                            overwrite=True, progress=False)
        import pyogrio.raw

        _, _, geometry, _ = pyogrio.raw.read(out / "s2-maps" / image.stem / "inventory.gpkg", layer="inventory")
        predicted = list(shapely.from_wkb(geometry)) if len(geometry) else []
        labels = folder / "labels" / image.name
        landslide_blobs, other_blobs = blobs(labels, 2), blobs(labels, 1)
        landslides += len(landslide_blobs)
        others += len(other_blobs)
        detected += check_against(landslide_blobs, predicted)["detected"]
        flagged += check_against(other_blobs, predicted)["detected"]
        polygons += summary.landslides
    return {"landslide_blobs": landslides, "detected": detected, "detected_share": detected / max(landslides, 1),
            "non_landslide_blobs": others, "flagged": flagged, "flagged_share": flagged / max(others, 1),
            "predicted_polygons": polygons}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--shared", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "data")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    state = read_run_state(args.run)
    threshold = validation_threshold(args.run, state, None, progress=False)
    report = {"cpu": cpu_model(), "run": str(args.run), "threshold_from_validation": threshold,
              "jiuzhaigou": jiuzhaigou(args.run, args.shared / "jiuzhaigou", args.out, threshold),
              "sentinel2_chittagong": sentinel2(args.run, args.shared / "sentinel2_chittagong", args.out, threshold)}
    print(json.dumps(report))


if __name__ == "__main__":
    main()
