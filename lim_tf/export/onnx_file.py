"""A run as one ONNX model: for ONNX Runtime, and for QGIS through the Deepness plugin.

The graph takes what Deepness feeds a segmentation model: float32 [batch, bands, height, width]
holding the pixel values divided by 255 (its own scaling; `standardization_*` in the metadata is
therefore the identity, since lim-tf's normalisation is inside the graph), and returns
`probability` [batch, 1, height, width], the mean over the ensemble's members. Any height and width
work. Models trained in mixed precision are exported as their float32 rebuild (the same weights).
"""

from __future__ import annotations

import json
import os
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from lim_tf.ensemble import Ensemble, load_run
from lim_tf.errors import OutputError
from lim_tf.run import RunState

INPUT_SCALE = 255.0  # the graph multiplies its input by this: Deepness divides uint8 pixels by 255
OPSET = 17


def _frozen_graph(models: list, bands: int, members: bool):
    """The ensemble as a frozen TensorFlow graph: (graph_def, input names, output names)."""
    import tensorflow as tf
    from tensorflow.python.framework.convert_to_constants import convert_variables_to_constants_v2

    spec = tf.TensorSpec([None, bands, None, None], tf.float32, "image")

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


def check_conversion_memory(ensemble: Ensemble) -> None:
    """Refuse, in one line, a conversion that would exhaust the memory that is free."""
    from lim_tf.runtime.memory import check_fits

    parameters = sum(model.count_params() for model in ensemble.models)
    check_fits(CONVERSION_BASE_BYTES + CONVERSION_BYTES_PER_PARAMETER * parameters,
               f"ONNX conversion of {parameters / 1e6:.1f} M parameters",
               "export a narrower model (trained with a smaller --width) as ONNX, or this one with "
               "--format savedmodel")


def convert(ensemble: Ensemble, members: bool = False) -> Any:
    """The ensemble (float32 rebuilds of its models) as an onnx.ModelProto."""
    import tf2onnx
    from keras.src.export.tf2onnx_lib import patch_tf2onnx

    from lim_tf.models.precision import as_float32
    from lim_tf.runtime.process import native_stderr_silenced

    check_conversion_memory(ensemble)
    graph_def, inputs, outputs = _frozen_graph([as_float32(m) for m in ensemble.models], ensemble.bands, members)
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


def deepness_metadata(state: RunState, ensemble: Ensemble, tile: int = 512, overlap: int = 15) -> dict[str, Any]:
    """The keys the Deepness QGIS plugin reads (values JSON-encoded, as it expects), and lim-tf's own."""
    bands = ensemble.bands
    resolution = state.resolution
    return {
        "model_type": "Segmentor", "class_names": {0: "landslide"},
        **({"resolution": round(resolution * 100, 3)} if resolution else {}),  # centimetres per pixel
        "tiles_size": tile, "tiles_overlap": overlap, "seg_thresh": state.threshold, "seg_small_segment": 7,
        "standardization_mean": [0.0] * bands, "standardization_std": [1.0] * bands,
        "lim_tf_input": f"float32 [batch, {bands}, height, width]: pixel values / {INPUT_SCALE:g}; normalisation is "
                        "inside the graph",
        "lim_tf_bands": list(state.band_names), "lim_tf_resolution_m": resolution,
        "lim_tf_threshold": state.threshold, "lim_tf_models": ensemble.names,
        "lim_tf_source": state.zoo or state.records,
    }


def onnx_session(proto: Any):
    """An ONNX Runtime session on the CPU for a ModelProto."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3  # warnings about unused initialisers are noise here
    return onnxruntime.InferenceSession(proto.SerializeToString(), options, providers=["CPUExecutionProvider"])


def check_against_keras(session: Any, ensemble: Ensemble, seed: int = 0) -> float:
    """Largest |ONNX Runtime - Keras (float32)| on a random batch of odd-sized images."""
    from lim_tf.models.precision import as_float32

    images = np.random.default_rng(seed).uniform(0, 255, (2, 70, 45, ensemble.bands)).astype(np.float32)
    expected = np.mean([as_float32(m).predict_on_batch(images)[..., 0] for m in ensemble.models], axis=0)
    served = session.run(None, {"image": np.transpose(images, (0, 3, 1, 2)) / INPUT_SCALE})[0][:, 0]
    return float(np.abs(served - expected).max())


def export_onnx(run: str | Path, out: Path, fold: int | None = None, name: str | None = None,
                trust: bool = False) -> dict[str, Any]:
    """Write OUT/NAME.onnx (checked against Keras before it appears); returns its metadata."""
    import onnx

    ensemble, state = load_run(Path(run), fold, trust=trust)
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", name or Path(str(run)).resolve().name)
    target = Path(out) / f"{name}.onnx"
    if target.exists():
        raise OutputError(f"{target}: already exists; choose another --name or folder")
    proto = convert(ensemble)
    metadata = deepness_metadata(state, ensemble)
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, json.dumps(value)
    difference = check_against_keras(onnx_session(proto), ensemble)
    if not difference < 1e-4:
        raise OutputError(f"the ONNX model differs from the Keras model by {difference:.3g}; not exported")
    try:
        Path(out).mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(f"{out}: cannot create ({error.strerror}); choose a writable folder for OUT") from error
    temporary = target.with_name(f".{target.name}.partial-{os.getpid()}")
    try:
        onnx.save(proto, str(temporary))
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return {**metadata, "path": str(target), "max_abs_difference": difference}
