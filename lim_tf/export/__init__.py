"""Export a run or a shipped model for the tools users serve models with: a SavedModel version
folder for TF Serving (savedmodel.py) or one ONNX file for ONNX Runtime and QGIS (onnx_file.py).
Either is checked against the Keras model before it appears."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lim_tf.atomic import check_apart
from lim_tf.config import ExportFormat
from lim_tf.errors import ConfigError
from lim_tf.export.naming import model_name


@dataclass(frozen=True)
class Exported:
    """What an export wrote, in the terms of either format."""

    path: str
    models: list[str]
    max_abs_difference: float
    check: str  # what the difference compares
    signatures: list[str]


def export_model(run: str | Path, out: Path, kind: ExportFormat = "savedmodel", fold: int | None = None,
                 name: str | None = None, version: int | None = None, trust: bool = False,
                 tile_size: int | None = None) -> Exported:
    """Export RUN (a run folder or a shipped model's name) as `kind`; `version` is SavedModel's only,
    `tile_size` (the fixed input side; default 512) ONNX's only."""
    if kind == "onnx" and version is not None:
        raise ConfigError("--version acts only with --format savedmodel (an ONNX file has no versions); drop it")
    if kind == "savedmodel" and tile_size is not None:
        raise ConfigError("--tile-size acts only with --format onnx (a SavedModel takes any size); drop it")
    if tile_size is not None and not (tile_size >= 32 and tile_size % 32 == 0):
        raise ConfigError(f"--tile-size {tile_size}: give a multiple of 32 (the networks halve a tile 5 times), "
                          "such as 256 or 512")
    check_apart(out, [("RUN", run)])
    name = model_name(name, run)
    if kind == "onnx":
        from lim_tf.export.onnx_file import TILE, export_onnx

        metadata = export_onnx(run, out, fold, name, trust=trust, tile=tile_size or TILE)
        return Exported(metadata["path"], metadata["lim_tf_models"], metadata["max_abs_difference"],
                        "ONNX Runtime - Keras float32", ["image -> probability"])
    from lim_tf.export.savedmodel import export_run

    metadata = export_run(Path(run), out, fold, name, version, trust=trust)
    return Exported(metadata["path"], metadata["models"], metadata["max_abs_difference"], "SavedModel - Keras",
                    list(metadata["signatures"]))
