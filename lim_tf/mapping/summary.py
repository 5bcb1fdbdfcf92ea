"""summary.json of a scene's map and of a region run: what `map` returns and writes.

A scene's summary is made by finish_scene and completed by whoever ran the prediction (runtime,
seconds); the region's summary lists the scenes and, for several, the merged layer. Both are
written through `save` (whole, renamed into place) and read back through `load`, which names the
file in a one-line error; the JSON layout is the one earlier versions wrote.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lim_tf.atomic import atomic_file
from lim_tf.errors import InputError

SUMMARY = "summary.json"


@dataclass
class SceneSummary:
    scene: str
    models: list[str]
    threshold: float
    landslides: int  # polygons in the inventory (candidates below the confidence cut not counted)
    total_area_m2: float
    largest_area_m2: float
    centroid_extent_lonlat: list[float] | None  # west, south, east, north of the polygons' centroids
    resolution_m: float | None = None  # where the scene was resampled to the model's resolution
    tta: int = 1  # test-time quarter turns averaged per tile (1: none)
    candidates: int | None = None  # polygons below the confidence cut (the candidates layer)
    confidence_cut: float | None = None
    check: dict[str, Any] | None = None  # --inventory's report (mapping.inventory.check_against)
    normalize: str | None = None
    scene_gain_offset: Sequence[Sequence[float]] | None = None  # --normalize scene: gains, offsets per band
    runtime: str | None = None
    runtime_reason: str | None = None
    runtime_cached: list[str] = field(default_factory=list)  # converted networks taken from the cache
    seconds: dict[str, float] | None = None  # load_model, open_scene, predict, outputs
    run: RegionSummary | None = None  # a scene mapped through the region path: that run's record

    def to_json(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        data["run"] = self.run.to_json() if self.run else None
        return {key: value for key, value in data.items() if value is not None or key in _SCENE_ALWAYS}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> SceneSummary:
        known = {f.name for f in dataclasses.fields(cls)}
        kept = {key: value for key, value in data.items() if key in known}
        if kept.get("run") is not None:
            kept["run"] = RegionSummary.from_json(kept["run"])
        return cls(**kept)

    def save(self, folder: Path) -> None:
        _save(self.to_json(), folder)

    @classmethod
    def load(cls, folder: Path) -> SceneSummary:
        return _load(cls, folder, ("scene", "landslides", "threshold"))


_SCENE_ALWAYS = {"centroid_extent_lonlat", "resolution_m"}


@dataclass
class SceneStatus:
    """One scene of a region run: done with its counts, or failed with the reason."""

    name: str
    path: str
    status: str  # "done" or "failed"
    landslides: int | None = None
    total_area_m2: float | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {key: value for key, value in dataclasses.asdict(self).items() if value is not None}


@dataclass
class RegionSummary:
    scenes: list[SceneStatus]
    failed: int
    threshold: float
    models: list[str]
    cluster: str
    batches_computed: int
    batches_reused: int
    seconds: float
    runtime: str
    runtime_reason: str
    region: dict[str, Any] | None = None  # the merged layer (mapping.merge.write_region); several scenes only

    def to_json(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        data["scenes"] = [scene.to_json() for scene in self.scenes]
        return {key: value for key, value in data.items() if value is not None}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RegionSummary:
        known = {f.name for f in dataclasses.fields(cls)}
        kept = {key: value for key, value in data.items() if key in known}
        kept["scenes"] = [SceneStatus(**scene) for scene in kept["scenes"]]
        return cls(**kept)

    def save(self, folder: Path) -> None:
        _save(self.to_json(), folder)

    @classmethod
    def load(cls, folder: Path) -> RegionSummary:
        return _load(cls, folder, ("scenes", "failed", "threshold"))


def _save(data: dict[str, Any], folder: Path) -> None:
    with atomic_file(Path(folder) / SUMMARY) as temporary:
        temporary.write_text(json.dumps(data, indent=2) + "\n")


def _load(kind: Any, folder: Path, required: tuple[str, ...]) -> Any:
    path = Path(folder) / SUMMARY
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as error:
        raise InputError(f"{folder}: no {SUMMARY}; is it a map folder written by 'lim-tf map'?") from error
    except (OSError, ValueError) as error:
        raise InputError(f"{path}: not readable JSON ({error}); map the scene again") from error
    if not isinstance(data, dict) or any(key not in data for key in required):
        raise InputError(f"{path}: not a {kind.__name__} (it needs {', '.join(required)}); map the scene again")
    try:
        return kind.from_json(data)
    except (TypeError, KeyError) as error:
        raise InputError(f"{path}: damaged ({error}); map the scene again") from error
