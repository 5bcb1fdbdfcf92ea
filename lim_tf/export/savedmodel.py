"""SavedModels for TF Serving: OUT/<name>/<version>/ with raw-image and encoded-image signatures."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np

from lim_tf.atomic import atomic_directory, clean_leftovers, created_folder
from lim_tf.errors import InputError, OutputError
from lim_tf.export.naming import model_name
from lim_tf.runtime.quiet import keras, tf
from lim_tf.trained.ensemble import Ensemble, load_run
from lim_tf.trained.run import RunFolder, RunState

log = logging.getLogger(__name__)
METADATA = "metadata.json"
ENCODED_BANDS = (1, 3, 4)  # what PNG and JPEG can hold


def _serving_fn(models: list[keras.Model], threshold: float):
    def predict(images: tf.Tensor) -> dict[str, tf.Tensor]:
        images = tf.cast(images, tf.float32)
        probability = tf.add_n([tf.cast(m(images, training=False), tf.float32) for m in models]) / len(models)
        return {"probability": probability, "landslide": tf.cast(probability >= threshold, tf.uint8)}

    return predict


def _decode_fn(predict, bands: int):
    def decode(encoded: tf.Tensor) -> dict[str, tf.Tensor]:
        # Images in one request must share a size; PNG and JPEG are 8-bit here.
        images = tf.map_fn(lambda b: tf.cast(tf.io.decode_image(b, channels=bands, expand_animations=False), tf.float32),
                           encoded, fn_output_signature=tf.TensorSpec([None, None, bands], tf.float32))
        return predict(images)

    return decode


def next_version(folder: Path) -> int:
    """One more than the highest numeric version folder (1 for a new model)."""
    versions = [int(p.name) for p in folder.iterdir() if p.is_dir() and p.name.isdigit()] if folder.exists() else []
    return max(versions, default=0) + 1


def _check_same_model(folder: Path, metadata: dict[str, Any]) -> None:
    """Versions of one served model must keep its interface: architecture and bands."""
    for version in sorted(p for p in folder.iterdir() if p.is_dir() and p.name.isdigit()) if folder.exists() else []:
        existing = version / METADATA
        if not existing.exists():
            raise OutputError(f"{version}: holds a SavedModel not written by lim-tf; choose another --name or folder")
        other = json.loads(existing.read_text())
        for key in ("architecture", "band_names"):
            if other.get(key) != metadata[key]:
                raise OutputError(f"{folder}: holds a different model ({key} {other.get(key)} vs {metadata[key]}); "
                                  "choose another --name")


def export_run(run: Path, out: Path, fold: int | None = None, name: str | None = None, version: int | None = None,
               seed: int = 0, trust: bool = False) -> dict[str, Any]:
    """Export a fold model or the ensemble (mean probability in one graph); returns the metadata.

    The SavedModel is reloaded and compared with the Keras models on a random batch before the
    version folder appears; `max_abs_difference` in the result is that check.
    """
    ensemble, state = load_run(Path(run), fold, trust=trust)
    folder = Path(out) / model_name(name, run)
    metadata = _metadata(run, state, ensemble, fold)
    _check_same_model(folder, metadata)
    for entry in folder.glob(".*.partial-*") if folder.exists() else []:
        clean_leftovers(folder, entry.name[1:].split(".partial-")[0])  # versions a killed export began
    version = version or next_version(folder)
    target = folder / str(version)
    if target.exists():
        raise OutputError(f"{target}: version {version} exists; omit --version to use {next_version(folder)}")
    # folders made here are removed again if the export fails
    with created_folder(folder), atomic_directory(target) as temporary:
        _write_saved_model(ensemble, state.threshold, temporary)
        metadata["max_abs_difference"] = _reload_check(temporary, ensemble, seed)
        metadata["version"] = version
        (temporary / METADATA).write_text(json.dumps(metadata, indent=2) + "\n")
    metadata["path"] = str(target)
    return metadata


def _write_saved_model(ensemble: Ensemble, threshold: float, path: Path) -> None:
    archive = keras.export.ExportArchive()
    for model in ensemble.models:
        archive.track(model)
    bands = ensemble.bands
    predict = tf.function(_serving_fn(ensemble.models, threshold))
    archive.add_endpoint("serving_default", predict, [tf.TensorSpec([None, None, None, bands], tf.float32, "images")])
    archive.add_endpoint("serve_uint8", tf.function(lambda images: predict(images)),
                         [tf.TensorSpec([None, None, None, bands], tf.uint8, "images")])
    if bands in ENCODED_BANDS:
        archive.add_endpoint("serve_encoded", tf.function(_decode_fn(predict, bands)),
                             [tf.TensorSpec([None], tf.string, "encoded")])
    archive.write_out(str(path), verbose=False)


def _reload_check(path: Path, ensemble: Ensemble, seed: int) -> float:
    loaded = tf.saved_model.load(str(path))
    images = np.random.default_rng(seed).uniform(0, 255, (2, 64, 48, ensemble.bands)).astype(np.float32)
    served = loaded.signatures["serving_default"](images=tf.constant(images))["probability"].numpy()[..., 0]
    difference = float(np.abs(served - ensemble.predict(images)).max())
    if not difference < 1e-3:
        raise OutputError(f"the reloaded SavedModel differs from the Keras model by {difference:.3g}; not exported")
    return difference


def _metadata(run: Path, state: RunState, ensemble: Ensemble, fold: int | None) -> dict[str, Any]:
    from lim_tf.data.manifest import load_manifest

    records = Path(state.records) if state.records else None
    statistics = [dataclasses.asdict(band) for band in load_manifest(records).band_statistics] \
        if records and (records / "manifest.json").exists() else None
    if state.zoo:  # a shipped model: its card holds the scores and the recipe
        from lim_tf.zoo import card

        entry = card(state.zoo)
        metrics: dict[str, Any] | None = entry.scores
        config = json.dumps(entry.to_json()["model"], sort_keys=True)
    else:
        layout = RunFolder(Path(run))
        evaluation = layout.evaluation("test") / "metrics.json"
        metrics = json.loads(evaluation.read_text()) if evaluation.exists() else None
        config = layout.config.read_text() if layout.config.exists() else ""
    return {
        "architecture": state.architecture or _architecture(Path(run)), "band_names": list(state.band_names),
        "bands": ensemble.bands, "chip_size": state.chip_size, "resolution_m": state.resolution,
        "threshold": state.threshold,
        "models": ensemble.names,
        "combine": "mean", "fold": fold,
        "normalisation": {"inside_model": True, "band_statistics": statistics},
        "training_manifest_sha256": state.manifest_sha256,
        "config_sha256": hashlib.sha256(config.encode()).hexdigest(),
        "metrics": metrics, "zoo": state.zoo,
        "signatures": {"serving_default": "images float32 [batch, height, width, bands]",
                       "serve_uint8": "images uint8 [batch, height, width, bands]",
                       **({"serve_encoded": "encoded string [batch]: PNG or JPEG bytes of one size"}
                          if ensemble.bands in ENCODED_BANDS else {})},
        "outputs": {"probability": "float32 [batch, height, width, 1]", "landslide": "uint8 [batch, height, width, 1]"},
    }


def _architecture(run: Path) -> str | None:
    """The architecture a run's config.yaml names (runs from before run.json recorded it)."""
    from lim_tf.config import TrainConfig, load_yaml

    layout = RunFolder(run)
    return load_yaml(TrainConfig, layout.config).model if layout.config.exists() else None


def read_metadata(version_folder: Path) -> dict[str, Any]:
    """The metadata.json of an exported version."""
    path = Path(version_folder) / METADATA
    if not path.exists():
        raise InputError(f"{version_folder}: no {METADATA}; export it with 'lim-tf export'")
    return json.loads(path.read_text())
