"""One fold's training summary, as run.json keeps it under "folds".

Written by training when a fold finishes and read by the run state (the ensemble, the threshold,
the memory estimate a cluster client checks). Fields a run of an older version did not write are
None; keys this version does not know are kept as they were, so rewriting run.json loses nothing.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

DONE = "done"


@dataclass(frozen=True)
class FoldSummary:
    status: str  # "done" once the fold's model is in place
    model: str | None = None  # the model, relative to the run folder
    threshold: float | None = None  # validation F1 optimum at the best epoch (null, always written: the run keeps its own)
    epochs: int | None = None  # trained; 0 for a calibration without training
    best_epoch: int | None = None
    best: dict[str, float] = field(default_factory=dict)  # the monitored value at the best epoch
    precision: str | None = None  # the training step's dtype policy
    xla: bool | None = None
    speed_choice: str | None = None  # why that precision and XLA
    step_seconds: dict[str, float] | None = None  # per candidate, where measured
    replicas: int | None = None
    own_process: bool | None = None
    peak_memory_mb: int | None = None
    train_seconds: float | None = None
    inference: dict[str, float] | None = None  # weight bytes and peak bytes per pixel (runtime.memory)
    time_budget: dict[str, Any] | None = None  # the budget's plan and where its guard stopped
    calibrated_on: str | None = None  # `--epochs 0`: the chips the threshold was chosen on
    other: dict[str, Any] = field(default_factory=dict)  # keys of other versions, kept as they were

    @property
    def done(self) -> bool:
        return self.status == DONE

    def to_json(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "other"}
        return {**self.other, **{key: value for key, value in data.items() if value is not None or key == "threshold"}}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FoldSummary:
        """A summary from run.json; the run state has checked it is an object with a status."""
        known = {f.name for f in dataclasses.fields(cls)} - {"other"}
        return cls(**{key: value for key, value in data.items() if key in known},
                   other={key: value for key, value in data.items() if key not in known})
