"""Training that starts from a finished model (`lim-tf train --init-from`): a run folder, a .keras file
or a shipped model's name, adapted to new records.

The new model is the source's own architecture rebuilt in the training precision, with every weight
(encoder and decoder) copied. Its input normalisation takes the new records' band statistics by
default: imagery of another region, sensor or season is then brought to the range the network
learnt to read, which is most of what a new region changes; `keep_normalization` keeps the source's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lim_tf.data.manifest import Manifest
from lim_tf.errors import InputError
from lim_tf.models import FLOAT32_LAYERS, normalization_moments
from lim_tf.runtime.quiet import keras

log = logging.getLogger(__name__)
ENCODER_PREFIX = "block"  # VGG16 encoder layers: block1_conv1 ... block5_pool (and their batch norms)


@dataclass(frozen=True)
class Source:
    """What a training run starts from."""

    model: keras.Model
    name: str
    band_names: list[str] | None
    resolution: float | None


def load_source(path: str, trust: bool = False) -> Source:
    """The model to start from: a run's first fold model, a .keras file or a shipped model."""
    from lim_tf.trained.ensemble import load_models

    ensemble, state = load_models(Path(path), trust=trust)
    if len(ensemble.models) > 1:
        log.info("%s is an ensemble of %d models; starting from %s", path, len(ensemble.models), ensemble.names[0])
    return Source(ensemble.models[0], str(path), list(state.band_names) or None, state.resolution)


def check_source(source: Source, manifest: Manifest, records: str) -> None:
    """Refuse records whose band count the source cannot read; note a change of ground resolution."""
    bands = int(source.model.input.shape[-1])
    if bands != len(manifest.band_names):
        theirs = ",".join(source.band_names) if source.band_names else f"{bands} bands"
        raise InputError(f"{records}: records have bands {','.join(manifest.band_names)} but --init-from "
                         f"{source.name} takes {theirs}; build records with the model's bands (--bands)")
    if source.resolution and manifest.resolution and abs(manifest.resolution / source.resolution - 1) > 0.01:
        log.warning("%s was trained at %g m; these records are at %g m: it adapts to the new scale",
                    source.name, source.resolution, manifest.resolution)


def _policy(config: Any, policy: str) -> Any:
    """A layer config with every dtype policy in it set to `policy`."""
    if isinstance(config, dict):
        if config.get("class_name") == "DTypePolicy":
            return {**config, "config": {**config["config"], "name": policy}}
        return {key: _policy(value, policy) for key, value in config.items()}
    if isinstance(config, list):
        return [_policy(item, policy) for item in config]
    return config


def _with(config: dict[str, Any], policy: str, mean: list[float] | None, variance: list[float] | None) -> dict:
    """The functional model's config in `policy`, as build_model would make it (its output layers and
    lim-tf's float32 layers keep their own) and, if given, with new normalisation statistics."""
    entries = config["output_layers"]
    outputs = {entries[0]} if isinstance(entries[0], str) else {entry[0] for entry in entries}
    layers = []
    for layer in config["layers"]:
        if layer["config"]["name"] not in outputs | set(FLOAT32_LAYERS):
            layer = {**layer, "config": _policy(layer["config"], policy)}
        if layer["class_name"] == "Normalization" and mean is not None:
            layer = {**layer, "config": {**layer["config"], "mean": mean, "variance": variance}}
        layers.append(layer)
    return {**config, "layers": layers}


def initial_model(source: Source, manifest: Manifest, policy: str, keep_normalization: bool) -> keras.Model:
    """The source's architecture in `policy` with all its weights; normalised by the records' band
    statistics unless `keep_normalization`."""
    mean = variance = None
    if not keep_normalization:
        moments = normalization_moments(list(manifest.means), list(manifest.stds))
        mean, variance = (values.tolist() for values in moments)
    model = keras.Model.from_config(_with(source.model.get_config(), policy, mean, variance))
    model.set_weights(source.model.get_weights())
    return model


def encoder_layers(model: keras.Model) -> list[keras.layers.Layer]:
    """The layers `--freeze-encoder-epochs` holds fixed."""
    return [layer for layer in model.layers if layer.name.startswith(ENCODER_PREFIX) and layer.weights]


class FreezeEncoder(keras.callbacks.Callback):
    """Holds the encoder's weights fixed for the first `epochs` epochs: the decoder first fits the new
    region's features, then the whole network trains. The optimizer is built over every variable
    beforehand, so releasing the encoder needs only a new trace of the training step."""

    def __init__(self, epochs: int) -> None:
        super().__init__()
        self.epochs = epochs

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.model.optimizer.build(self.model.trainable_variables)

    def on_epoch_begin(self, epoch: int, logs: dict | None = None) -> None:
        frozen = epoch < self.epochs
        layers = encoder_layers(self.model)
        if layers and layers[0].trainable == frozen:  # a change: retrace the step with the new variables
            for layer in layers:
                layer.trainable = not frozen
            self.model.make_train_function(force=True)
            log.info("epoch %d: encoder %s", epoch + 1, "frozen" if frozen else "trainable")
