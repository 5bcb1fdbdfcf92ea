"""The exported model's name: a folder (SavedModel) or file (ONNX) inside OUT, never a path."""

from __future__ import annotations

import re
from pathlib import Path

from lim_tf.errors import ConfigError


def model_name(name: str | None, run: str | Path) -> str:
    """The exported model's name (a folder or file name inside OUT): --name, else the run folder's
    name, with characters outside [A-Za-z0-9_.-] replaced; one that would still act as a path
    ('..', '.', a hidden name) is refused."""
    given = name if name is not None else Path(str(run)).resolve().name
    cleaned = re.sub(r"[^A-Za-z0-9_.-]", "_", given)
    if not cleaned or cleaned.startswith("."):
        source = f"--name {name!r}" if name is not None else f"{run}: the run folder's name {given!r}"
        raise ConfigError(f"{source}: not a plain model name (it would write outside OUT or hidden); give --name "
                          "such as landslides")
    return cleaned
