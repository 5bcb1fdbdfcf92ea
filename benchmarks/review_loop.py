"""The analyst's review loop on real imagery, played by a script: how much a few reviewed polygons
buy, against labelling as many whole tiles.

Run: .venv/bin/python benchmarks/review_loop.py MODEL TILES OUT [--budgets 25 50 100 200] [--drawn 10]

TILES (../shared/data/jiuzhaigou_train) is stitched into a review block (columns left of
--split-column, one tile of buffer) and a test block right of it (benchmarks/mosaic.py: 1 m pixels
declared in UTM 48N). The review block is mapped with MODEL (`--normalize scene`, the inventory and
its candidates). For each budget N the simulated analyst reviews the N polygons the inventory
suggests first, the least sure (lowest `confidence`) first, marking each `confirmed` where it
touches a labelled landslide and `rejected` elsewhere, and draws up to --drawn missed landslides
(the largest) from the labels; `data build --review` makes records of the reviewed ground and
`train --init-from MODEL --preset cpu` adapts for --steps steps. The other arm labels N random whole
tiles of the review block instead. Every run maps the whole test block (`--normalize scene` where
the model normalises as it shipped; an adapted run normalises by its own records) and is scored
there: pixel F1 and IoU, landslides touched, polygons real. --fix-outlines plays an analyst who also
reshapes each confirmed polygon to the landslide it marks (QGIS's reshape tool) instead of only
setting its review. Results go to OUT/results.json; the last line printed is JSON.
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
import pyogrio.raw  # noqa: E402
import rasterio  # noqa: E402
import shapely  # noqa: E402
from common import cpu_model, lim  # noqa: E402
from mosaic import ORIGIN, split_blocks, window  # noqa: E402
from new_region import score  # noqa: E402
from rasterio.features import shapes  # noqa: E402

STEPS_PER_EPOCH = 20


def labelled_landslides(labels: Path) -> list:
    with rasterio.open(labels) as src:
        data = src.read(1)
        return [shapely.geometry.shape(g) for g, v in shapes((data == 1).astype(np.uint8), mask=data == 1,
                                                               transform=src.transform) if v == 1]


def inventory_polygons(inventory: Path) -> tuple[list, np.ndarray, str]:
    """Every polygon of a map's inventory and candidates layers, their confidence and the CRS."""
    polygons, confidence, crs = [], [], ""
    for layer in ("inventory", "candidates"):
        meta, _, geometry, fields = pyogrio.raw.read(inventory, layer=layer)
        crs = meta["crs"]
        columns = list(meta["fields"])
        polygons += list(shapely.from_wkb(geometry)) if len(geometry) else []
        confidence += list(fields[columns.index("confidence")]) if "confidence" in columns else [0.5] * len(geometry)
    return polygons, np.asarray(confidence, float), crs


def write_edited(edited: Path, shapes_: list, reviews: list[str], crs: str) -> None:
    # A reshaped polygon that marks two landslides is two polygons, as a GeoPackage layer wants.
    pairs = [(part, review) for shape, review in zip(shapes_, reviews) for part in shapely.get_parts(shape)]
    pyogrio.raw.write(edited, shapely.to_wkb([p for p, _ in pairs]),
                      [np.arange(1, len(pairs) + 1), np.array([r for _, r in pairs], dtype=object)],
                      ["id", "review"], driver="GPKG", geometry_type="Polygon", crs=crs)


def review(inventory: Path, truth: list, budget: int, drawn: int, edited: Path,
           fix_outlines: bool = False) -> dict[str, int]:
    """The first `budget` polygons by rising confidence (inventory and candidates), confirmed or
    rejected from the truth; then up to `drawn` of the largest missed landslides drawn in. With
    `fix_outlines` the analyst also reshapes each confirmed polygon to the landslides it touches."""
    polygons, confidence, crs = inventory_polygons(inventory)
    order = np.argsort(confidence, kind="stable")[:budget]
    chosen = [polygons[i] for i in order]
    tree = shapely.STRtree(truth)
    touched = [tree.query(p, predicate="intersects") for p in chosen]
    reviews = ["confirmed" if len(hits) else "rejected" for hits in touched]
    if fix_outlines:
        chosen = [shapely.unary_union([truth[i] for i in hits]) if len(hits) else p
                  for p, hits in zip(chosen, touched)]
    found = shapely.STRtree(polygons) if polygons else None
    missed = [t for t in truth if found is None or not len(found.query(t, predicate="intersects"))]
    missed = sorted(missed, key=lambda t: -t.area)[:drawn]
    counts = {"reviewed": len(chosen), "confirmed": reviews.count("confirmed"),
              "rejected": reviews.count("rejected"), "drawn": len(missed)}
    write_edited(edited, chosen + missed, reviews + ["confirmed"] * len(missed), crs)
    return counts


def ground_near_rejected(edited: Path, margin: float, area: Path) -> Path:
    """The checked ground as the margin around rejected polygons, less the margin around confirmed
    ones: ground the analyst saw empty, away from landslides whose outline may be short."""
    meta, _, geometry, fields = pyogrio.raw.read(edited)
    shapes_, reviews = shapely.from_wkb(geometry), fields[list(meta["fields"]).index("review")]
    near = [shapely.buffer(s, margin) for s, r in zip(shapes_, reviews)]
    rejected = shapely.unary_union([b for b, r in zip(near, reviews) if r == "rejected"])
    confirmed = shapely.unary_union([b for b, r in zip(near, reviews) if r == "confirmed"])
    ground = [g for g in shapely.get_parts(shapely.difference(rejected, confirmed)) if not g.is_empty]
    ground = ground or [shapely.box(0, 0, 1, 1)]  # nothing rejected: a speck far from the block
    pyogrio.raw.write(area, shapely.to_wkb(ground), [np.arange(1, len(ground) + 1)], ["id"], driver="GPKG",
                      geometry_type="Polygon", crs=meta["crs"])
    return area


def tile_box(tile: Path):
    row0, row1, col0, col1 = window(tile)
    return shapely.box(ORIGIN[0] + col0, ORIGIN[1] - row1, ORIGIN[0] + col1, ORIGIN[1] - row0)


def review_whole_tiles(inventory: Path, truth: list, tiles: list[Path], budget: int, drawn: int, edited: Path,
                 area: Path) -> dict[str, int]:
    """Whole tiles reviewed, those holding the least confident polygons first: every polygon in a
    tile set confirmed (reshaped to the landslides it touches) or rejected, every landslide no
    polygon touches drawn, and the tiles written as the checked ground (`--labelled-area`); tiles
    are taken while the reviewed polygons stay within `budget` and the drawn landslides within
    `drawn`."""
    polygons, confidence, crs = inventory_polygons(inventory)
    found, landslides = shapely.STRtree(polygons), shapely.STRtree(truth)
    boxes = [tile_box(t) for t in tiles]
    marked = [landslides.query(b, predicate="intersects") for b in boxes]
    # A tile's polygons: those on it, and those touching its landslides from beyond its edge.
    inside = [np.unique(np.concatenate([found.query(b, predicate="intersects"),
                                        *[found.query(truth[k], predicate="intersects") for k in ks]]).astype(int))
              for b, ks in zip(boxes, marked)]
    order = sorted(range(len(tiles)), key=lambda i: (confidence[inside[i]].min() if len(inside[i]) else 2.0, i))
    seen: set[int] = set()
    shapes_, reviews, chosen, counts = [], [], [], {"tiles": 0, "reviewed": 0, "confirmed": 0, "rejected": 0,
                                                   "drawn": 0}
    for i in order:
        new = [j for j in inside[i] if j not in seen]
        hits = [landslides.query(polygons[j], predicate="intersects") for j in new]
        missed = [k for k in marked[i] if not len(found.query(truth[k], predicate="intersects"))]
        if counts["reviewed"] + len(new) > budget or counts["drawn"] + len(missed) > drawn:
            continue  # too much for what is left: a tile further down the list may fit
        seen.update(new)
        for j, hit in zip(new, hits):
            shapes_.append(shapely.unary_union([truth[k] for k in hit]) if len(hit) else polygons[j])
            reviews.append("confirmed" if len(hit) else "rejected")
        shapes_ += [truth[k] for k in missed]
        reviews += ["confirmed"] * len(missed)
        chosen.append(boxes[i])
        counts["tiles"] += 1
        counts["reviewed"] += len(new)
        counts["confirmed"] += sum(1 for h in hits if len(h))
        counts["rejected"] += sum(1 for h in hits if not len(h))
        counts["drawn"] += len(missed)
    write_edited(edited, shapes_, reviews, crs)
    pyogrio.raw.write(area, shapely.to_wkb(chosen), [np.arange(1, len(chosen) + 1)], ["id"], driver="GPKG",
                      geometry_type="Polygon", crs=crs)
    return counts


def adapt(records: Path, run: Path, model: str, steps: int) -> float:
    """train --init-from MODEL on `records` for `steps` steps (resuming a run an earlier call left
    unfinished); minutes taken."""
    started = time.perf_counter()
    state = run / "run.json"
    if state.exists() and json.loads(state.read_text())["ensemble"]["models"]:
        return 0.0  # finished by an earlier call
    lim("train", records, run, "--init-from", model, "--preset", "cpu", "--epochs", max(1, steps // STEPS_PER_EPOCH),
        "--steps-per-epoch", STEPS_PER_EPOCH, "--freeze-encoder-epochs", 2, *(["--resume"] if state.exists() else []))
    return round((time.perf_counter() - started) / 60, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("tiles", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--split-column", type=int, default=8960)
    parser.add_argument("--budgets", type=int, nargs="*", default=[25, 50, 100, 200])
    parser.add_argument("--drawn", type=int, default=10, help="missed landslides the analyst draws in")
    parser.add_argument("--steps", type=int, default=360, help="adaptation steps per run (batches of 16)")
    parser.add_argument("--margin", type=float, default=30.0,
                        help="metres around each reviewed polygon the analyst checked (data build --review-margin)")
    parser.add_argument("--tile-review", action="store_true",
                        help="review whole tiles instead (least confident polygons first; every polygon in a tile "
                             "reviewed and reshaped, its missed landslides drawn, the tiles as --labelled-area)")
    parser.add_argument("--ground-near-rejected", action="store_true",
                        help="count as checked ground only the margin around rejected polygons, none near confirmed "
                             "ones (whose drawn outline may be short of the landslide's)")
    parser.add_argument("--fix-outlines", action="store_true",
                        help="the analyst also reshapes each confirmed polygon to the labelled landslides it touches")
    args = parser.parse_args()
    if args.tile_review and (args.fix_outlines or args.margin != 30.0 or args.ground_near_rejected):
        parser.error("--tile-review reshapes every confirmed polygon and takes the tiles as the checked ground: "
                     "drop --fix-outlines, --margin and --ground-near-rejected")
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    blocks = split_blocks(args.tiles, args.split_column, out, "review")
    review_tiles = blocks["review"][2]
    results_path = out / "results.json"
    results = json.loads(results_path.read_text()) if results_path.exists() else {"cpu": cpu_model()}
    test_image, test_labels, _ = blocks["test"]

    def scored(name: str, model: str, *options: object) -> dict:
        target = out / "maps" / name
        if not (target / "summary.json").exists():
            lim("map", test_image, model, target, "--overwrite", *options)
        return score(target, test_labels)

    def record(name: str, slug: str, edited: Path, checked: list, done: dict) -> None:
        """Records of the reviewed ground (`checked`: the margin or the labelled area), the adapted
        run, its map of the test block scored, kept in results.json under `name`."""
        records = out / f"records-{slug}"
        if not records.exists():
            lim("data", "build", blocks["review"][0], records, "--format", "geotiff", "--labels", edited, "--review",
                *checked, "--chip-mode", "grid", "--chip-size", 256, "--resolution", 1.6,
                "--test-landslide", 0, "--test-non-landslide", 0, "--folds", 2)
        run = out / f"run-{slug}"
        minutes = adapt(records, run, args.model, args.steps)
        results[name] = {**done, **scored(slug, str(run)), "train_minutes": minutes}
        results_path.write_text(json.dumps(results, indent=2) + "\n")

    results["shipped, scene light"] = scored("shipped", args.model, "--normalize", "scene")
    review_map = out / "maps" / "review-block"
    if not (review_map / "summary.json").exists():
        lim("map", blocks["review"][0], args.model, review_map, "--overwrite", "--normalize", "scene")
    truth = labelled_landslides(blocks["review"][1])
    for budget in args.budgets:
        tag = ("" if args.margin == 30.0 else f"-m{args.margin:g}") + ("-fixed" if args.fix_outlines else "") + \
            ("-rejected" if args.ground_near_rejected else "")
        name = f"reviewed {budget}" + (", outlines fixed" if args.fix_outlines else "") + \
            (f", {args.margin:g} m around" if args.margin != 30.0 else "") + \
            (", ground only near rejected" if args.ground_near_rejected else "")
        if not args.tile_review and name not in results:
            edited = out / f"edited-{budget}{tag}.gpkg"
            done = review(review_map / "inventory.gpkg", truth, budget, args.drawn, edited, args.fix_outlines)
            checked = ["--review-margin", args.margin]
            if args.ground_near_rejected:
                checked = ["--labelled-area", ground_near_rejected(edited, args.margin, out / f"area-{budget}{tag}.gpkg")]
            record(name, f"reviewed-{budget}{tag}", edited, checked, done)
        name = f"tiles reviewed, {budget} polygons"
        if args.tile_review and name not in results:
            edited, area = out / f"edited-tiles-{budget}.gpkg", out / f"area-tiles-{budget}.gpkg"
            done = review_whole_tiles(review_map / "inventory.gpkg", truth, review_tiles, budget, args.drawn, edited,
                                      area)
            record(name, f"tiles-reviewed-{budget}", edited, ["--labelled-area", area], done)
        name = f"random tiles {budget}"
        if name not in results:
            chosen = [review_tiles[i] for i in np.random.default_rng(0).permutation(len(review_tiles))[:budget]]
            folder = out / f"tiles-{budget}"
            if not folder.exists():
                for part in ("images", "masks"):
                    (folder / part).mkdir(parents=True)
                for tile in chosen:
                    os.symlink(tile.resolve(), folder / "images" / tile.name)
                    os.symlink((args.tiles / "masks" / f"{tile.stem}.png").resolve(),
                               folder / "masks" / f"{tile.stem}.png")
            records = out / f"records-tiles-{budget}"
            if not records.exists():
                lim("data", "build", folder, records, "--format", "folder", "--source-resolution", 1, "--resolution",
                    1.6, "--mask-values", "0=background,255=landslide", "--augment", "none", "--folds", 2,
                    "--test-landslide", 0)
            minutes = adapt(records, out / f"run-tiles-{budget}", args.model, args.steps)
            results[name] = {**scored(name.replace(" ", "-"), str(out / f"run-tiles-{budget}")), "tiles": budget,
                             "train_minutes": minutes}
            results_path.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
