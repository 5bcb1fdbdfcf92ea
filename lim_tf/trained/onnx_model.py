"""An ensemble as one ONNX graph, and an ensemble that predicts through ONNX Runtime.

The graph takes float32 [batch, bands, height, width] holding the pixel values divided by 255 (what
the Deepness QGIS plugin feeds) and returns `probability` [batch, 1, height, width], the mean over
the members, or with `members` each member's map [members, batch, height, width]. Any height and
width work. Models trained in mixed precision are converted as their float32 rebuild.

`OnnxEnsemble` maps through that graph where TensorFlow is slower: on an AVX2-only Zen 3 ONNX
Runtime ran the CPU recipe's U-Net 1.6-1.9 x as fast as TensorFlow in float32, with the same test F1
(benchmarks/bench_int8.py); with bfloat16 units TensorFlow is faster (bench_onnx.py). `quantise`
makes the graph int8 after training (static, calibrated on chips the caller gives), faster again.
"""

from __future__ import annotations

import tempfile
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lim_tf.runtime.cache import FileCache, digest
from lim_tf.trained.ensemble import TURNS, Ensemble

INPUT_SCALE = 255.0  # the graph multiplies its input by this: Deepness divides uint8 pixels by 255
OPSET = 17
GRAPH_VERSION = "1"  # raise when the graph convert() makes changes, so cached ones are made again


def _frozen_graph(models: list, bands: int, members: bool, size: int | None = None):
    """The ensemble as a frozen TensorFlow graph: (graph_def, input names, output names); `size`
    fixes the input to size x size pixels (None: any height and width)."""
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    from lim_tf.runtime.quiet import tf

    spec = tf.TensorSpec([None, bands, size, size], tf.float32, "image")

    @tf.function(input_signature=[spec], autograph=False)
    def forward(image):
        pixels = tf.transpose(image, [0, 2, 3, 1]) * INPUT_SCALE
        maps = [model(pixels, training=False) for model in models]  # each [batch, height, width, 1]
        if members:
            return {"members": tf.stack([m[..., 0] for m in maps])}
        return {"probability": tf.transpose(tf.add_n(maps) / len(maps), [0, 3, 1, 2])}

    # Freezing turns variables and captured constants (the normalisation's mean and variance) into
    # graph constants; without it tf2onnx would make them extra inputs.
    frozen = convert_variables_to_constants_v2(forward.get_concrete_function())
    return frozen.graph.as_graph_def(), [t.name for t in frozen.inputs], [t.name for t in frozen.outputs]


# tf2onnx holds many copies of the weights while it optimises the graph: measured peaks of 7.8 GB for
# a 25.9 M-parameter U-Net and 8.4 GB for a 33.6 M-parameter FCN-FL (about 300 bytes a parameter
# over a 1 GB base); the full-width FCN-FL (134 M) would need about 40 GB.
CONVERSION_BYTES_PER_PARAMETER = 300
CONVERSION_BASE_BYTES = 2**30


EXPORT_REMEDY = "export a narrower model (trained with a smaller --width) as ONNX, or this one with --format savedmodel"


def check_conversion_memory(ensemble: Ensemble, remedy: str = EXPORT_REMEDY) -> None:
    """Refuse, in one line, a conversion that would exhaust the memory that is free."""
    from lim_tf.runtime.memory import check_fits

    parameters = sum(model.count_params() for model in ensemble.models)
    check_fits(CONVERSION_BASE_BYTES + CONVERSION_BYTES_PER_PARAMETER * parameters,
               f"ONNX conversion of {parameters / 1e6:.1f} M parameters", remedy)


def convert(ensemble: Ensemble, members: bool = False, remedy: str = EXPORT_REMEDY, size: int | None = None) -> Any:
    """The ensemble (float32 rebuilds of its models) as an onnx.ModelProto, its input fixed to
    size x size pixels where given (QGIS's Deepness needs a square one); `remedy` ends the refusal
    of a conversion the free memory cannot hold."""
    import tf2onnx
    from keras.src.export.tf2onnx_lib import patch_tf2onnx

    from lim_tf.models.precision import as_float32
    from lim_tf.runtime.process import native_stderr_silenced

    check_conversion_memory(ensemble, remedy)
    graph_def, inputs, outputs = _frozen_graph([as_float32(m) for m in ensemble.models], ensemble.bands, members,
                                               size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        patch_tf2onnx()  # tf2onnx 1.17 still reads np.object and friends, gone in numpy 2
    with native_stderr_silenced():
        proto, _ = tf2onnx.convert.from_graph_def(graph_def, input_names=inputs, output_names=outputs, opset=OPSET)
    proto.graph.input[0].name, proto.graph.output[0].name = "image", "members" if members else "probability"
    for node in proto.graph.node:  # follow the renames inside the graph
        node.input[:] = ["image" if n == inputs[0] else n for n in node.input]
        node.output[:] = [("members" if members else "probability") if n == outputs[0] else n for n in node.output]
    return proto


def onnx_session(proto: Any, threads: int = 0):
    """An ONNX Runtime session on the CPU for a ModelProto; `threads` 0: ONNX Runtime's default (all cores)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # warnings about unused initialisers are noise here
    options.intra_op_num_threads = threads
    return onnxruntime.InferenceSession(proto.SerializeToString(), options, providers=["CPUExecutionProvider"])


def to_nchw(pixels: np.ndarray) -> np.ndarray:
    """Pixels [batch, height, width, bands] as the graph's input: [batch, bands, height, width] / 255."""
    return np.ascontiguousarray(np.transpose(pixels, (0, 3, 1, 2)) / np.float32(INPUT_SCALE), dtype=np.float32)


def quantise(proto: Any, chips: list[np.ndarray]) -> Any:
    """The graph in int8 (static post-training quantisation, QDQ: int8 weights per output channel,
    uint8 activations), with activation ranges taken from `chips` ([height, width, bands] pixels).

    The ranges are the chips' minimum and maximum at every tensor, so the chips must show what the
    graph will meet: 4 chips cost 0.015 test F1 on Bijie where 64 cost nothing (bench_int8.py)."""
    import onnx
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if not chips:
        raise ValueError("int8 quantisation needs at least one calibration chip")

    class Chips(CalibrationDataReader):
        def __init__(self) -> None:
            self.feed: Iterator[np.ndarray] = iter(chips)

        def get_next(self) -> dict[str, np.ndarray] | None:
            chip = next(self.feed, None)
            return None if chip is None else {"image": to_nchw(chip[None])}

    with tempfile.TemporaryDirectory(prefix="lim-tf-int8-") as work:
        source, prepared, quantised = (Path(work) / name for name in ("float.onnx", "prepared.onnx", "int8.onnx"))
        source.write_bytes(proto.SerializeToString())  # from a ModelProto it would lose its small constants
        # Folding and shape inference first, as ONNX Runtime advises; the symbolic pass needs sympy.
        quant_pre_process(source, prepared, skip_symbolic_shape=True)
        # The calibrator keeps only each tensor's minimum and maximum per chip, so no chunking is
        # needed (ONNX Runtime 1.32's CalibMaxIntermediateOutputs drops the chunks it fills).
        quantize_static(prepared, quantised, Chips(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8)
        return onnx.load(str(quantised))


def network_key(ensemble: Ensemble, members: bool, size: int | None = None) -> str:
    """What a converted graph is made from: its models' architecture and weights, the converter and
    the graph's form; the same key, the same graph."""
    import tf2onnx

    from lim_tf import __version__

    parts: list[bytes | str] = [GRAPH_VERSION, __version__, tf2onnx.__version__, str(OPSET), str(members), str(size)]
    for model in ensemble.models:
        parts.append(model.to_json())
        parts += [np.asarray(weight).astype(np.float32).tobytes() for weight in model.get_weights()]
    return digest(*parts)


def converted(ensemble: Ensemble, cache: FileCache, members: bool = True,
              remedy: str = EXPORT_REMEDY) -> tuple[Any, bool]:
    """`convert` made once per model and kept in `cache`: (the graph, whether it came from the cache)."""
    import onnx

    data, hit = cache.get(network_key(ensemble, members),
                          lambda: convert(ensemble, members, remedy).SerializeToString())
    return onnx.load_model_from_string(data), hit


def quantised(proto: Any, key: str, chips: list[np.ndarray], cache: FileCache) -> tuple[Any, bool]:
    """`quantise` kept in `cache` for the graph `key` and these very chips (a scene's calibration)."""
    import onnx
    import onnxruntime

    chips_key = digest(key, onnxruntime.__version__, *(np.ascontiguousarray(chip).tobytes() for chip in chips))
    data, hit = cache.get(f"int8-{chips_key}", lambda: quantise(proto, chips).SerializeToString())
    return onnx.load_model_from_string(data), hit


@dataclass(frozen=True)
class OnnxEnsemble:
    """The predictions of `source` (its members, flips and uncertainty), computed by ONNX Runtime."""

    source: Ensemble
    session: Any
    cached: tuple[str, ...] = ()  # which graphs came from the cache: "float32", "int8"

    @classmethod
    def of(cls, source: Ensemble, threads: int = 0, calibration: list[np.ndarray] | None = None,
           cache: FileCache = FileCache(None)) -> "OnnxEnsemble":
        """`source` converted (once per model, kept in `cache`); in int8 when calibration chips are
        given (see `quantise`; kept for those chips)."""
        proto, hit = converted(source, cache, remedy="map with --runtime tensorflow")
        hits: tuple[str, ...] = ("float32",) if hit else ()
        if calibration is not None:
            proto, hit = quantised(proto, network_key(source, True), calibration, cache)
            hits += ("int8",) if hit else ()
        return cls(source, onnx_session(proto, threads), hits)

    @property
    def models(self) -> list:
        return self.source.models

    @property
    def names(self) -> list[str]:
        return self.source.names

    @property
    def bands(self) -> int:
        return self.source.bands

    @property
    def turns(self) -> int:
        return self.source.turns

    @property
    def uncertainty(self) -> bool:
        return self.source.uncertainty

    def normalization(self) -> tuple[tuple[float, ...], tuple[float, ...]] | None:
        return self.source.normalization()

    def predict_members(self, images: np.ndarray) -> np.ndarray:
        return self._members(self._each(images))

    def predict_with_uncertainty(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        each = self._each(images)
        return self._members(each), each.reshape(-1, *each.shape[2:]).std(axis=0)  # over every member's turns

    def _members(self, each: np.ndarray) -> np.ndarray:
        """Each member's map: the mean of its first `turns` quarter turns (as Ensemble)."""
        return each[:, :self.turns].mean(axis=1)

    def _each(self, images: np.ndarray) -> np.ndarray:
        """(members, turns, batch, height, width): `turns` of them, or all four for the uncertainty."""
        turns = TURNS if self.uncertainty else TURNS[:self.turns]
        pixels = np.asarray(images, np.float32)
        maps = []
        for k in turns:
            turned = np.rot90(pixels, k, axes=(1, 2)) if k else pixels
            members = self.session.run(None, {"image": to_nchw(turned)})[0]  # (members, batch, height, width)
            maps.append(np.rot90(members, -k, axes=(2, 3)) if k else members)
        return np.stack(maps, axis=1)


Predictor = Ensemble | OnnxEnsemble  # what mapping predicts with


def for_runtime(ensemble: Ensemble, runtime: str, threads: int = 0,
                calibration: Callable[[], list[np.ndarray]] | None = None,
                cache: FileCache = FileCache(None)) -> Predictor:
    """`ensemble` itself for TensorFlow, or its twin on ONNX Runtime (`threads` 0: all cores); for
    "onnx-int8" quantised on the chips `calibration` returns (called only then). Converted graphs
    are kept in `cache` (by default nothing is kept)."""
    if runtime == "onnx":
        return OnnxEnsemble.of(ensemble, threads, cache=cache)
    if runtime == "onnx-int8":
        if calibration is None:
            raise ValueError("the onnx-int8 runtime needs calibration chips")
        return OnnxEnsemble.of(ensemble, threads, calibration(), cache)
    return ensemble
