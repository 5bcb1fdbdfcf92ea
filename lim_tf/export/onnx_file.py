"""A run as one ONNX model: for ONNX Runtime, and for QGIS through the Deepness plugin.

The graph takes what Deepness feeds a segmentation model: float32 [batch, bands, height, width]
holding the pixel values divided by 255 (its own scaling; `standardization_*` in the metadata is
therefore the identity, since lim-tf's normalisation is inside the graph), and returns
`probability` [batch, 1, height, width], the mean over the ensemble's members. Any height and width
work. Models trained in mixed precision are exported as their float32 rebuild (the same weights).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from lim_tf.atomic import atomic_file, created_folder
from lim_tf.ensemble import Ensemble, load_run
from lim_tf.errors import OutputError
from lim_tf.onnx_model import INPUT_SCALE, convert, onnx_session
from lim_tf.run import RunState


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

    from lim_tf.export import model_name

    ensemble, state = load_run(Path(run), fold, trust=trust)
    target = Path(out) / f"{model_name(name, run)}.onnx"
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
    with created_folder(Path(out)), atomic_file(target) as temporary:  # nothing left if the write fails
        onnx.save(proto, str(temporary))
    return {**metadata, "path": str(target), "max_abs_difference": difference}
