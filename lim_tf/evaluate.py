"""Evaluation: a run (a fold model or the ensemble) on a record split or image folders -> scores,
per-image rows, threshold sweep, figures and comparison tables."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import logging
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

import numpy as np
from scipy import ndimage
from tqdm.auto import tqdm

from lim_tf.atomic import atomic_directory, check_apart
from lim_tf.config import SourceConfig, Split, ThresholdRule
from lim_tf.data.items import Item, folder_items, record_items
from lim_tf.data.manifest import load_manifest, verify_records
from lim_tf.data.sample import IGNORE, LANDSLIDE
from lim_tf.errors import ConfigError, InputError
from lim_tf.figures import overlay_png, polygon_curve_png, pr_curve_png, reliability_png
from lim_tf.metrics import Confusion, ObjectCounts, ThresholdSweep, count_objects
from lim_tf.polygons import RULE, PolygonSet, chip_polygons
from lim_tf.trained.confidence import ConfidenceModel, polygon_features
from lim_tf.trained.ensemble import Ensemble
from lim_tf.trained.run import RunFolder, RunState, resolve_threshold

log = logging.getLogger(__name__)
TABLE_ROWS = ("accuracy", "recall", "f1", "miou", "precision", "iou_landslide", "false_positive_m2_per_km2")
KINDS = ("landslide_chips", "non_landslide_chips")
UNCERTAINTY_EDGES = (0.0, 0.01, 0.02, 0.05, 0.1, 0.2)  # lower edges of the reliability table's bins


def false_positive_m2_per_km2(confusion: Confusion) -> float:
    """Area wrongly mapped as landslide per km² of non-landslide ground (the false-positive rate x 10^6)."""
    ground = confusion.fp + confusion.tn
    return 1e6 * confusion.fp / ground if ground else 0.0


@dataclass
class Evaluation:
    """Everything accumulated over the evaluated images, in total and by chip kind."""

    threshold: float
    confusion: Confusion = field(default_factory=Confusion)
    by_kind: dict[str, Confusion] = field(default_factory=lambda: {kind: Confusion() for kind in KINDS})
    images_by_kind: dict[str, int] = field(default_factory=lambda: {kind: 0 for kind in KINDS})
    objects: ObjectCounts = field(default_factory=ObjectCounts)
    sweep: ThresholdSweep = field(default_factory=ThresholdSweep)
    rows: list[dict[str, Any]] = field(default_factory=list)
    examples: list[tuple[str, np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=list)
    min_alarm_pixels: int = 1  # a non-landslide chip "raises an alarm" with a predicted region this large
    landslide_chips_detected: int = 0  # landslide chips where at least one true landslide is touched
    non_landslide_chips_alarmed: int = 0  # non-landslide chips with at least one predicted region
    kind_ratio: float | None = None  # non-landslide chips per landslide chip of the source, for reweighting
    # eval --uncertainty: per bin of the spread over members and flips, (valid pixels, wrong pixels)
    reliability: np.ndarray | None = None
    polygons: PolygonSet = field(default_factory=PolygonSet)  # predicted polygons, for the analyst's counts
    resolution: float = 1.0  # metres per pixel of the evaluated chips

    def reliability_table(self) -> list[dict[str, Any]] | None:
        """Error rate per uncertainty bin: where the model is less sure, is it wrong more often?"""
        if self.reliability is None:
            return None
        edges = (*UNCERTAINTY_EDGES, float("inf"))
        return [{"uncertainty_from": low, "uncertainty_to": high, "pixels": int(pixels),
                 "error_rate": float(wrong / pixels) if pixels else None}
                for low, high, (pixels, wrong) in zip(edges[:-1], edges[1:], self.reliability)]

    def image_level(self) -> dict[str, Any]:
        """What a user reading a map per chip sees: landslides found, empty ground kept quiet."""
        landslides, empty = self.images_by_kind[KINDS[0]], self.images_by_kind[KINDS[1]]
        return {"landslide_chips_detected_share": self.landslide_chips_detected / landslides if landslides else None,
                "non_landslide_chips_with_false_alarm_share":
                    self.non_landslide_chips_alarmed / empty if empty else None,
                "min_alarm_pixels": self.min_alarm_pixels}

    def at_kind_ratio(self) -> dict[str, Any] | None:
        """Pixel scores with the non-landslide chips counted as if they were `kind_ratio` times as many
        as the landslide chips (the source's real mix), not as many as the test split happens to hold."""
        landslides, empty = self.images_by_kind[KINDS[0]], self.images_by_kind[KINDS[1]]
        if not self.kind_ratio or not landslides or not empty:
            return None
        weight = self.kind_ratio * landslides / empty
        confusion = self.by_kind[KINDS[0]] + self.by_kind[KINDS[1]].scaled(weight)
        return {"kind_ratio": self.kind_ratio, "non_landslide_weight": weight, **confusion.scores(),
                "false_positive_m2_per_km2": false_positive_m2_per_km2(confusion)}

    def empty_weight(self) -> float:
        """How many times a chip without landslides counts at the source's real mix of kinds (1: as held)."""
        landslides, empty = self.images_by_kind[KINDS[0]], self.images_by_kind[KINDS[1]]
        return self.kind_ratio * landslides / empty if self.kind_ratio and landslides and empty else 1.0

    def polygon_scores(self, confidence: ConfidenceModel | None = None) -> dict[str, Any]:
        """What an analyst counts: landslides detected and real polygons, every polygon and (with a
        confidence model) those above its cut, as held and at the source's real mix."""
        if confidence is not None and self.polygons.polygons:
            self.polygons.confidence = confidence.predict(polygon_features(self.polygons.polygons))
        weight = self.empty_weight()
        scores: dict[str, Any] = {"rule": RULE, "group": self.polygons.group,
                                  "all": _no_rule(self.polygons.scores(None)),
                                  "all_at_kind_ratio": _no_rule(self.polygons.scores(None, weight))
                                  if self.kind_ratio else None}
        if confidence is not None:
            scores.update(cut=confidence.cut, kept=_no_rule(self.polygons.scores(confidence.cut)),
                          kept_at_kind_ratio=_no_rule(self.polygons.scores(confidence.cut, weight))
                          if self.kind_ratio else None,
                          reliability=self.polygons.reliability(empty_weight=weight) if self.polygons.polygons else [],
                          curve=self.polygons.curve(list(np.round(np.linspace(0, 0.95, 20), 2)), weight))
        return scores

    def metrics(self) -> dict[str, Any]:
        """Scores over all images (the headline), then landslide and non-landslide chips apart."""
        best, best_f1 = self.sweep.best_threshold()
        kinds = {}
        for kind in KINDS:
            confusion = self.by_kind[kind]
            kinds[kind] = {"images": self.images_by_kind[kind], "confusion": confusion.as_dict(), **confusion.scores(),
                           "false_positive_m2_per_km2": false_positive_m2_per_km2(confusion),
                           "share_of_false_positives": confusion.fp / self.confusion.fp if self.confusion.fp else 0.0}
        return {"threshold": self.threshold, "confusion": self.confusion.as_dict(), **self.confusion.scores(),
                "false_positive_m2_per_km2": false_positive_m2_per_km2(self.confusion), **kinds,
                "objects": {**self.objects.__dict__, **self.objects.scores()},
                "f1_optimal_threshold_on_this_data": best, "f1_at_that_threshold": best_f1,
                "images": len(self.rows), "image_level": self.image_level(), "at_kind_ratio": self.at_kind_ratio(),
                "reliability": self.reliability_table()}


def evaluate(model: Ensemble, items: Iterable[Item], threshold: float, keep: int = 0, batch_size: int = 8,
             min_overlap: float = 0.0, total: int | None = None, progress: bool = True, min_alarm_pixels: int = 1,
             kind_ratio: float | None = None, resolution: float = 1.0, group: float | None = None) -> Evaluation:
    """Predict every item and accumulate pixel, object, polygon, image-level and sweep statistics;
    keep a few for figures. `resolution`: metres per pixel (polygon areas); `group`: the probability
    polygons are grouped at (lim_tf.polygons.chip_polygons)."""
    result = Evaluation(threshold, min_alarm_pixels=min_alarm_pixels, kind_ratio=kind_ratio, resolution=resolution,
                        polygons=PolygonSet(group=group))
    with tqdm(total=total, desc="evaluating", unit="image", disable=not progress) as bar:
        for batch in _batches(items, batch_size):
            images = np.stack([image for _, image, _ in batch])
            if images.shape[-1] != model.bands:
                raise InputError(f"{batch[0][0]}: images have {images.shape[-1]} bands but the model takes "
                                 f"{model.bands}; evaluate on data with the training bands")
            if model.uncertainty:
                members, spreads = model.predict_with_uncertainty(images)
                probabilities = members.mean(axis=0)
            else:
                probabilities, spreads = model.predict(images), [None] * len(batch)  # type: ignore[assignment]
            for (name, image, mask), probability, spread in zip(batch, probabilities, spreads):
                _add(result, name, image, mask, probability, min_overlap, keep)
                if spread is not None:
                    _add_reliability(result, mask, probability, spread)
            bar.update(len(batch))
    if not result.rows:
        raise InputError("nothing to evaluate: the split or folder holds no images")
    return result


def _add(result: Evaluation, name: str, image, mask, probability, min_overlap: float, keep: int) -> None:
    truth, valid = mask == LANDSLIDE, mask != IGNORE
    predicted = (probability >= result.threshold) & valid
    confusion = Confusion.from_masks(truth, predicted, valid)
    objects = count_objects(truth & valid, predicted, min_overlap)
    kind = KINDS[0] if truth.any() else KINDS[1]
    result.confusion += confusion
    result.by_kind[kind] += confusion
    result.images_by_kind[kind] += 1
    result.objects += objects
    result.sweep.add(truth, probability, valid)
    polygons, landslides = chip_polygons(truth, probability, result.threshold, valid, result.resolution,
                                         result.polygons.landslides, group=result.polygons.group)
    result.polygons.add(polygons, landslides)
    if kind == KINDS[0]:
        result.landslide_chips_detected += objects.detected > 0
    else:
        labels, count = ndimage.label(predicted, structure=np.ones((3, 3)))
        sizes = np.bincount(labels.ravel(), minlength=count + 1)[1:]
        result.non_landslide_chips_alarmed += bool((sizes >= result.min_alarm_pixels).any())
    result.rows.append({"id": name, "kind": kind.removesuffix("_chips"), **confusion.as_dict(), **confusion.scores(),
                        "true_objects": objects.true_objects, "detected_objects": objects.detected,
                        "predicted_objects": objects.predicted_objects})
    if len(result.examples) < keep:
        result.examples.append((name, image, truth, predicted))


def _add_reliability(result: Evaluation, mask, probability, spread) -> None:
    valid = mask != IGNORE
    wrong = ((probability >= result.threshold) != (mask == LANDSLIDE)) & valid
    bins = np.digitize(spread[valid], UNCERTAINTY_EDGES[1:])
    counts = np.stack([np.bincount(bins, minlength=len(UNCERTAINTY_EDGES)),
                       np.bincount(bins, weights=wrong[valid], minlength=len(UNCERTAINTY_EDGES))], axis=1)
    result.reliability = counts if result.reliability is None else result.reliability + counts


def _batches(items: Iterable[Item], size: int) -> Iterator[list[Item]]:
    """Consecutive items of equal shape, at most `size` at a time."""
    batch: list[Item] = []
    for item in items:
        if batch and (len(batch) == size or item[1].shape != batch[0][1].shape):
            yield batch
            batch = []
        batch.append(item)
    if batch:
        yield batch


def write_report(result: Evaluation, out: Path, extra: dict[str, Any], overwrite: bool = False,
                 confidence: ConfidenceModel | None = None) -> dict[str, Any]:
    """metrics.json, per_image.csv, pr_curve.png, the polygons' reliability diagram and cut curve
    (with a confidence model), and overlay figures, written atomically to `out`."""
    polygons = result.polygon_scores(confidence)
    metrics = {**extra, **result.metrics(), "polygons": polygons}
    with atomic_directory(Path(out), overwrite) as folder:
        if confidence is not None:
            reliability_png(polygons["reliability"], folder / "polygon_reliability.png")
            polygon_curve_png(polygons["curve"], confidence.cut, folder / "polygon_cut_curve.png")
        (folder / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
        with (folder / "per_image.csv").open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(result.rows[0]))
            writer.writeheader()
            writer.writerows(result.rows)
        curve = result.sweep.curve()
        pr_curve_png(curve, result.threshold, folder / "pr_curve.png")
        (folder / "figures").mkdir()
        for index, (name, image, truth, predicted) in enumerate(result.examples):
            overlay_png(image, truth, predicted, folder / "figures" / f"{index:03d}_{_safe(name)}.png")
    return metrics


def _no_rule(scores: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in scores.items() if k != "rule"}


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_+" else "_" for c in name)


def comparison_table(metrics: dict[str, dict[str, Any]]) -> tuple[str, str]:
    """The paper's Tables 3/4, a column per model: scores over every test chip (landslide and
    non-landslide), then the paper's protocol (landslide chips only) as a second, named block.

    Returns (markdown, csv)."""
    names = list(metrics)
    rows = [(row, row, metrics) for row in TABLE_ROWS]
    rows += [(f"{row} (landslide chips only)", row, {n: metrics[n][KINDS[0]] for n in names})
             for row in ("recall", "f1", "precision", "iou_landslide")]
    if all(metrics[n].get("at_kind_ratio") for n in names):
        ratio = metrics[names[0]]["at_kind_ratio"]["kind_ratio"]
        rows += [(f"{row} (at {ratio:.2f} non-landslide chips per landslide chip)", row,
                  {n: metrics[n]["at_kind_ratio"] for n in names}) for row in ("precision", "f1")]
    for label, key in (("landslide chips with a landslide found", "landslide_chips_detected_share"),
                       ("non-landslide chips with a false alarm", "non_landslide_chips_with_false_alarm_share")):
        if all(metrics[n].get("image_level", {}).get(key) is not None for n in names):
            rows.append((f"{label} (share)", key, {n: metrics[n]["image_level"] for n in names}))
    for block, label in (("all", "every polygon"), ("all_at_kind_ratio", "every polygon, at the real mix"),
                         ("kept", "polygons above the confidence cut"),
                         ("kept_at_kind_ratio", "above the cut, at the real mix")):
        if all(metrics[n].get("polygons", {}).get(block) for n in names):
            source = {n: metrics[n]["polygons"][block] for n in names}
            rows += [(f"landslides detected ({label})", "detected_share", source),
                     (f"polygons that are real ({label})", "polygon_precision", source)]
    lines = ["| metric | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["metric", *names])
    for label, key, source in rows:
        digits = 1 if key == "false_positive_m2_per_km2" else 4
        lines.append(f"| {label} | " + " | ".join(f"{source[n][key]:.{digits}f}" for n in names) + " |")
        writer.writerow([label, *(f"{source[n][key]:.6f}" for n in names)])
    return "\n".join(lines) + "\n", buffer.getvalue()


def validation_threshold(run: Path, state: RunState, fold: int | None, progress: bool = True,
                         trust: bool = False) -> float:
    """F1-optimal threshold on validation data only: each fold model on its own held-out fold of the
    records the run trained on (out-of-fold predictions for an ensemble), never on test data."""
    from lim_tf.trained.ensemble import load_run

    if not state.records:
        raise InputError(f"{run}: --threshold optimal needs the run's validation folds; a shipped model's threshold "
                         "is its card's (--threshold run)")
    records = Path(state.records)
    folds = [fold] if fold is not None else state.done_folds()
    sweep = ThresholdSweep()
    for k in folds:
        member, _ = load_run(run, k, trust=trust)
        scored = record_items(records, "val", k)
        sweep = sweep + evaluate(member, scored.items, 0.5, total=scored.count, progress=progress).sweep
    threshold, f1 = sweep.best_threshold()
    log.info("F1-optimal threshold on validation data: %.3f (F1 %.4f)", threshold, f1)
    return threshold


def parse_threshold(text: str) -> float | ThresholdRule:
    """--threshold: 'run', 'optimal' or a probability in 0..1."""
    word = text.strip().lower()
    if word in get_args(ThresholdRule):
        return word  # type: ignore[return-value]
    try:
        value = float(word)
    except ValueError:
        value = math.nan
    if not 0 <= value <= 1:
        raise ConfigError(f"--threshold {text!r}: give 'run', 'optimal' or a probability in 0..1")
    return value


@dataclass(frozen=True)
class EvalRequest:
    """What to evaluate and how."""

    records: Path | None = None  # default: the records the run was trained on
    images: Path | None = None  # a Bijie-layout folder or images/ + masks/, instead of records
    mask_values: tuple = ()
    source_resolution: float | None = None  # --images: their pixel size in metres when the files do not say
    split: Split = "test"
    fold: int | None = None  # None: the ensemble of all finished folds
    threshold: float | ThresholdRule = "run"  # "run": the run's own; "optimal": F1-optimal on its validation folds
    tta: int | None = None  # quarter turns each prediction averages (1..4); None: the model's own
    trust_model: bool = False  # load models that carry Python code
    figures: int = 8
    batch_size: int = 8
    min_overlap: float = 0.0
    # Non-landslide chips per landslide chip to reweight the pixel scores to (the source's real mix);
    # None: what the records' manifest states for their source, if anything.
    kind_ratio: float | None = None
    min_alarm_area: float = 50.0  # m²: a predicted region at least this large on empty ground is a false alarm
    uncertainty: bool = False  # also a reliability table: error rate per bin of the spread over members and turns

    def __post_init__(self) -> None:
        if self.split not in get_args(Split):
            raise ConfigError(f"split {self.split!r}: choose from {', '.join(get_args(Split))}")
        if not (self.threshold in get_args(ThresholdRule) or isinstance(self.threshold, (int, float))
                and 0 <= self.threshold <= 1):
            raise ConfigError(f"threshold {self.threshold!r}: give 'run', 'optimal' or a probability in 0..1")
        if self.split == "val" and self.fold is None and not self.images:
            raise ConfigError("--split val needs --fold (the validation fold of that model)")

    def default_out(self, run: Path | str) -> Path:
        """RUN/eval-SPLIT (eval-images with --images); beside a shipped model's name, never a folder
        named like it, which would shadow the model."""
        from lim_tf.zoo import is_zoo_name

        split = "images" if self.images else self.split
        folder = RunFolder(Path(str(run))).evaluation(split)
        return Path(f"{run}-{folder.name}") if is_zoo_name(run) else folder


def evaluate_run(run: Path, out: Path, request: EvalRequest, overwrite: bool = False,
                 progress: bool = True) -> dict[str, Any]:
    """Evaluate one run into `out` (metrics.json, per_image.csv, figures); returns the metrics."""
    from lim_tf.trained.ensemble import load_run

    model, state = load_run(run, request.fold, request.tta, request.trust_model)
    model = dataclasses.replace(model, uncertainty=request.uncertainty)
    if request.threshold == "optimal":
        threshold, threshold_source = (validation_threshold(run, state, request.fold, progress, request.trust_model),
                                       "F1-optimal on validation folds")
    else:
        threshold, threshold_source = resolve_threshold(None if request.threshold == "run" else request.threshold,
                                                        state)
    kind_ratio = None
    if request.images:
        source = SourceConfig(mask_values=request.mask_values, resolution=request.source_resolution)
        scored = folder_items(request.images, source, state.resolution)
        data = str(request.images)
    else:
        if not (request.records or state.records):
            raise InputError(f"{run}: a shipped model has no training records here; score it with --records or "
                             "--images")
        records = Path(request.records or state.records or "")
        verify_records(records)
        scored = record_items(records, request.split, request.fold if request.split == "val" else None)
        if scored.bands != model.bands:
            raise InputError(f"{records}: records have {scored.bands} bands but {run}'s model takes {model.bands}; "
                             "evaluate on records built like the training ones")
        _check_resolution(records, state)
        kind_ratio = load_manifest(records).kind_ratio
        data = f"{records} ({request.split})"
    resolution = state.resolution or 1.0  # unknown: the area is read as pixels
    confidence = ConfidenceModel.from_json(state.confidence, f"{run}: run.json") if state.confidence else None
    result = evaluate(model, scored.items, threshold, request.figures, request.batch_size, request.min_overlap,
                      scored.count, progress, min_alarm_pixels=max(1, math.ceil(request.min_alarm_area / resolution**2)),
                      kind_ratio=request.kind_ratio or kind_ratio, resolution=resolution,
                      group=confidence.group if confidence else None)
    extra = {"run": str(run), "models": model.names, "combine": "mean", "tta": model.turns, "data": data,
             "resolution_m": state.resolution, "threshold_source": threshold_source}
    return write_report(result, out, extra, overwrite, confidence)


def _check_resolution(records: Path, state: RunState) -> None:
    """Records at another ground resolution than the run's would score the model off its scale."""
    theirs, ours = load_manifest(records).resolution, state.resolution
    if theirs and ours and abs(theirs / ours - 1) > 0.01:
        raise InputError(f"{records}: chips at {theirs} m but the model was trained at {ours} m; rebuild them "
                         f"with --resolution {ours}")


def evaluate_runs(runs: list[Path], out: Path, request: EvalRequest, overwrite: bool = False,
                  progress: bool = True) -> dict[str, dict[str, Any]]:
    """Evaluate several runs into out/<run name>/ and write out/comparison.md and .csv."""
    names = [Path(run).name for run in runs]
    if len(set(names)) != len(names):
        raise InputError(f"runs need distinct folder names to label the comparison: {', '.join(names)}")
    metrics = {}
    with atomic_directory(Path(out), overwrite) as folder:
        for run, name in zip(runs, names):
            metrics[name] = evaluate_run(Path(run), folder / name, request, progress=progress)
        markdown, table = comparison_table(metrics)
        (folder / "comparison.md").write_text(markdown)
        (folder / "comparison.csv").write_text(table)
    return metrics


def _records_of(run: Path | str) -> str | None:
    """The records a run folder trained on (None for a shipped model or a folder that is no run:
    loading it reports that)."""
    from lim_tf.zoo import is_zoo_name

    if is_zoo_name(run) or not RunFolder(Path(run)).state.is_file():
        return None
    try:
        return RunState.load(run).records
    except InputError:
        return None


def score_runs(runs: list[Path], out: Path | None, request: EvalRequest, overwrite: bool = False,
               progress: bool = True) -> tuple[dict[str, dict[str, Any]], Path]:
    """One run into OUT (default: `request.default_out`), or several into OUT/<name>/ with a comparison
    table; returns the metrics by run name and the output folder."""
    folder = Path(out) if out else request.default_out(runs[0])
    trained_on = [("the records RUN trained on", _records_of(run)) for run in runs if not request.records]
    check_apart(folder, [*(("RUN", run) for run in runs), ("--records", request.records), ("--images", request.images),
                         *trained_on], "--out", inside_allowed=("RUN",))  # RUN/eval-test is where scores belong
    if len(runs) == 1:
        return {Path(runs[0]).name: evaluate_run(Path(runs[0]), folder, request, overwrite, progress)}, folder
    if out is None:
        raise ConfigError("several runs need --out for the comparison")
    return evaluate_runs(list(runs), Path(out), request, overwrite, progress), Path(out)
