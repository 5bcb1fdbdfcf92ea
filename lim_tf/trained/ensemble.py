"""Trained models of a run: one fold model or the K-fold ensemble (mean probability)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lim_tf.errors import ConfigError, InputError
from lim_tf.models import load_model
from lim_tf.runtime.quiet import keras, tf
from lim_tf.trained.run import RunFolder, RunState

# Quarter turns of an image, in the order test-time augmentation adds them: 2 averages 0 and 180
# degrees, 4 all four. On the Bijie validation folds the four turns scored as well as all eight
# flips and turns, and each first few at least as well as the flips (benchmarks/README.md).
TURNS = (0, 2, 1, 3)


@dataclass
class Ensemble:
    """Averages the probability maps of its members; a single model is an ensemble of one.

    With `turns` above 1 each member's map is itself the mean over that many quarter turns of the
    image (each prediction turned back), which evens out the network's orientation preferences."""

    models: list[keras.Model]
    names: list[str]
    turns: int = 1  # quarter turns averaged at prediction (TURNS[:turns]); 1: none
    # Also predict all four turns of every member (whatever `turns`) and return their standard
    # deviation: where the members and orientations disagree, the map is least sure.
    uncertainty: bool = False

    def __post_init__(self) -> None:
        if not 1 <= self.turns <= len(TURNS):
            raise ConfigError(f"test-time turns must be 1..{len(TURNS)}, not {self.turns}")

    def normalization(self) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
        """Per band (mean, std) the first member normalises its input by (the training imagery's),
        or None for a model without lim-tf's normalisation layer."""
        try:
            layer = self.models[0].get_layer("normalize")
        except ValueError:
            return None
        mean, variance = np.ravel(layer.mean), np.ravel(layer.variance)
        return tuple(float(m) for m in mean), tuple(float(s) for s in np.sqrt(variance))

    @property
    def bands(self) -> int:
        return int(self.models[0].input.shape[-1])

    def predict(self, images: np.ndarray) -> np.ndarray:
        """Mean landslide probability (batch, height, width) over the members."""
        return self.predict_members(images).mean(axis=0)

    def predict_members(self, images: np.ndarray) -> np.ndarray:
        """Each member's probability: (members, batch, height, width)."""
        return self._members(tf.convert_to_tensor(images, tf.float32))[0].numpy()

    def predict_with_uncertainty(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(each member's probability, the standard deviation over every member's four turns (batch,
        height, width)); needs `uncertainty`."""
        members, spread = self._members(tf.convert_to_tensor(images, tf.float32))
        return members.numpy(), spread.numpy()

    @functools.cached_property
    def _members(self):
        # One trace serves every image size; predict_on_batch would retrace for each new tile shape.
        turns = TURNS if self.uncertainty else TURNS[:self.turns]

        def turned(model, images, k):
            if not k:
                return model(images, training=False)[..., 0]
            return tf.image.rot90(model(tf.image.rot90(images, k), training=False), -k)[..., 0]

        @tf.function(input_signature=[tf.TensorSpec([None, None, None, self.bands], tf.float32)])
        def members(images):
            each = tf.stack([tf.stack([turned(model, images, k) for k in turns]) for model in self.models])
            # (members, turns, batch, height, width): the first `turns` are averaged.
            probability = tf.reduce_mean(each[:, :self.turns], axis=1)
            spread = tf.math.reduce_std(tf.reshape(each, [-1, *tf.unstack(tf.shape(each)[2:])]), axis=0) \
                if self.uncertainty else tf.zeros([0])
            return probability, spread

        return members


def read_run_state(run: Path) -> RunState:
    """run.json of a training run; a folder without finished models is an error."""
    state = RunState.load(run)
    if not state.models:
        raise InputError(f"{run}: no finished fold model yet; finish training with 'lim-tf train --resume'")
    return state


def load_run(run: Path, fold: int | None = None, turns: int | None = None,
             trust: bool = False) -> tuple[Ensemble, RunState]:
    """The ensemble of a run (fold=None) or one fold's model, with run.json; a shipped model's name
    (lim_tf.zoo) gives that model and the state its card describes. `turns` None: as many test-time
    turns as the run or card says its threshold was chosen with."""
    from lim_tf import zoo

    if zoo.is_zoo_name(run):
        if fold not in (None, 0):
            raise InputError(f"{run}: a shipped model has no fold {fold}; drop --fold")
        model, state = zoo.load(str(run))
        return Ensemble([model], [str(run)], turns or state.turns), state
    state = read_run_state(run)
    names = state.models
    if fold is not None:
        names = [n for n in names if n == RunFolder.model_name(fold)]
        if not names:
            done = ", ".join(sorted(state.folds))
            raise InputError(f"{run}: fold {fold} has no finished model (finished folds: {done or 'none'})")
    return Ensemble([load_model(Path(run) / n, trust) for n in names], names, turns or state.turns), state


def load_models(path: Path, fold: int | None = None, turns: int | None = None,
                trust: bool = False) -> tuple[Ensemble, RunState]:
    """A run folder, a shipped model's name or a single .keras file (then the state knows only the
    default threshold: a bare model file records no bands, resolution or threshold)."""
    path = Path(path)
    if path.suffix == ".keras" or path.is_file():
        return (Ensemble([load_model(path, trust)], [path.name], turns or 1),
                RunState(band_names=(), models=[path.name], threshold_source="default (a bare model file)"))
    return load_run(path, fold, turns, trust)
