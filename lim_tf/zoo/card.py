"""A shipped model's card (NAME.json): what the model is, expects and scores, as one checked value.

The card is data the package ships, so it is read as data: every field a stage relies on is
checked once here (a bad card is a one-line error naming its file), and what only people read
(training record, fixed set, parameters) is kept as written under `other`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

from lim_tf.config import ModelName
from lim_tf.errors import InputError


@dataclass(frozen=True)
class Network:
    """The architecture the weights belong to (lim_tf.models.MODELS), rebuilt in float32."""

    name: ModelName
    width: float
    batch_norm: bool


@dataclass(frozen=True)
class ModelCard:
    name: str
    summary: str
    network: Network  # "model" in the file
    bands: tuple[str, ...]
    resolution_m: float
    threshold: float
    threshold_source: str
    mean: tuple[float, ...]  # "normalization" in the file: the training records' band statistics
    std: tuple[float, ...]
    scores: dict[str, dict[str, Any]]  # "test" (held out) first; others by data and rule
    licence: str
    limits: str
    command: str  # how it was made, from a source checkout
    confidence: dict[str, Any] | None = None  # the polygons' confidence model (trained.confidence), as data
    turns: int = 1  # test-time quarter turns map and eval average by default (threshold chosen with them)
    other: dict[str, Any] = field(default_factory=dict)  # every other key, as written

    @property
    def test(self) -> dict[str, Any]:
        return self.scores["test"]

    def to_json(self) -> dict[str, Any]:
        network = {"name": self.network.name, "width": self.network.width, "batch_norm": self.network.batch_norm}
        data = {"name": self.name, "summary": self.summary, "licence": self.licence, "limits": self.limits,
                "command": self.command, "model": network, "bands": list(self.bands),
                "resolution_m": self.resolution_m, "threshold": self.threshold,
                "threshold_source": self.threshold_source, "turns": self.turns,
                "normalization": {"mean": list(self.mean), "std": list(self.std)}, "scores": self.scores}
        return {**self.other, **data, **({"confidence": self.confidence} if self.confidence is not None else {})}

    @classmethod
    def from_json(cls, data: Any, where: str) -> ModelCard:
        problem = _problem(data)
        if problem:
            raise InputError(f"{where}: {problem}; the model card is damaged: reinstall lim-tf")
        known = {"name", "summary", "licence", "limits", "command", "model", "bands", "resolution_m", "threshold",
                 "threshold_source", "normalization", "scores", "confidence", "turns"}
        spec = data["model"]
        return cls(data["name"], data["summary"], Network(spec["name"], float(spec["width"]), bool(spec["batch_norm"])),
                   tuple(data["bands"]), float(data["resolution_m"]), float(data["threshold"]),
                   data["threshold_source"], tuple(map(float, data["normalization"]["mean"])),
                   tuple(map(float, data["normalization"]["std"])), data["scores"], data["licence"], data["limits"],
                   data["command"], data.get("confidence"), data.get("turns", 1), {k: v for k, v in data.items() if k not in known})

    @classmethod
    def load(cls, path: Path) -> ModelCard:
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, ValueError) as error:
            raise InputError(f"{path}: not a readable model card ({error}); reinstall lim-tf") from error
        return cls.from_json(data, str(path))

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(self.to_json(), indent=2) + "\n")


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _problem(data: Any) -> str | None:
    """What is wrong with a card's structure, or None."""
    if not isinstance(data, dict):
        return "expected a JSON object"
    texts = ("name", "summary", "licence", "limits", "command", "threshold_source")
    missing = [key for key in texts if not isinstance(data.get(key), str)]
    if missing:
        return f"{missing[0]} must be text"
    spec = data.get("model")
    if not (isinstance(spec, dict) and spec.get("name") in get_args(ModelName) and _number(spec.get("width"))
            and spec["width"] > 0 and isinstance(spec.get("batch_norm"), bool)):
        return "model must give the architecture's name, width and batch_norm"
    bands = data.get("bands")
    if not (isinstance(bands, list) and bands and all(isinstance(b, str) for b in bands)):
        return "bands must be a list of band names"
    if not (_number(data.get("resolution_m")) and data["resolution_m"] > 0):
        return "resolution_m must be a positive number of metres"
    if not (_number(data.get("threshold")) and 0 <= data["threshold"] <= 1):
        return "threshold must be a number in 0..1"
    normalization = data.get("normalization")
    if not (isinstance(normalization, dict) and all(
            isinstance(normalization.get(key), list) and len(normalization[key]) == len(bands)
            and all(_number(v) for v in normalization[key]) for key in ("mean", "std"))):
        return "normalization must give a mean and a std for every band"
    scores = data.get("scores")
    if not (isinstance(scores, dict) and isinstance(scores.get("test"), dict)):
        return "scores must hold the held-out test scores"
    turns = data.get("turns", 1)
    if type(turns) is not int or not 1 <= turns <= 4:
        return "turns must be 1, 2, 3 or 4 (test-time quarter turns)"
    if data.get("confidence") is not None and not isinstance(data["confidence"], dict):
        return "confidence must be the confidence model or null"
    return None
