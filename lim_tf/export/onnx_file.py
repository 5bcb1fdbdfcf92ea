"""A run as one ONNX model: for ONNX Runtime, and for QGIS through the Deepness plugin.

The graph takes what Deepness feeds a segmentation model: float32 [batch, bands, N, N] holding the
pixel values divided by 255 (its own scaling; `standardization_*` in the metadata is therefore the
identity, since lim-tf's normalisation is inside the graph), and returns `probability`
[batch, 1, N, N], the mean over the ensemble's members. N is fixed (the tile size, 512 by default):
Deepness reads its tile size off the input and fails to load a model whose height and width are
dynamic. Models trained in mixed precision are exported as their float32 rebuild (the same weights).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from lim_tf.atomic import atomic_file, created_folder
from lim_tf.errors import OutputError
from lim_tf.export.naming import model_name
from lim_tf.trained.ensemble import Ensemble, load_run
from lim_tf.trained.onnx_model import INPUT_SCALE, convert, onnx_session
from lim_tf.trained.run import RunState

TILE = 512  # the exported input's side in pixels: 819 m at the shipped model's 1.6 m
OVERLAP_PERCENT = 15  # Deepness overlaps its tiles by this share: predictions near a tile's edge see less context


def deepness_metadata(state: RunState, ensemble: Ensemble, tile: int = TILE,
                      overlap: int = OVERLAP_PERCENT) -> dict[str, Any]:
    """The keys the Deepness QGIS plugin reads (values JSON-encoded, as it expects), and lim-tf's own.
    The tile size is written under both names: Deepness 0.6.5's code reads `tile_size`, its
    documentation says `tiles_size`."""
    bands = ensemble.bands
    resolution = state.resolution
    return {
        "model_type": "Segmentor", "class_names": {0: "landslide"},
        **({"resolution": round(resolution * 100, 3)} if resolution else {}),  # centimetres per pixel
        "tile_size": tile, "tiles_size": tile, "tiles_overlap": overlap, "seg_thresh": state.threshold,
        "seg_small_segment": 7,
        "standardization_mean": [0.0] * bands, "standardization_std": [1.0] * bands,
        "lim_tf_input": f"float32 [batch, {bands}, {tile}, {tile}]: pixel values / {INPUT_SCALE:g}; normalisation "
                        "is inside the graph",
        "lim_tf_bands": list(state.band_names), "lim_tf_resolution_m": resolution,
        "lim_tf_threshold": state.threshold, "lim_tf_models": ensemble.names,
        "lim_tf_source": state.zoo or state.records,
    }


def check_against_keras(session: Any, ensemble: Ensemble, seed: int = 0, size: int | None = None) -> float:
    """Largest |ONNX Runtime - Keras (float32)| on a random batch of size x size images (odd-sized
    ones for a graph of any size)."""
    from lim_tf.models.precision import as_float32

    shape = (size, size) if size else (70, 45)
    images = np.random.default_rng(seed).uniform(0, 255, (2, *shape, ensemble.bands)).astype(np.float32)
    expected = np.mean([as_float32(m).predict_on_batch(images)[..., 0] for m in ensemble.models], axis=0)
    served = session.run(None, {"image": np.transpose(images, (0, 3, 1, 2)) / INPUT_SCALE})[0][:, 0]
    return float(np.abs(served - expected).max())


def export_onnx(run: str | Path, out: Path, fold: int | None = None, name: str | None = None,
                trust: bool = False, tile: int = TILE) -> dict[str, Any]:
    """Write OUT/NAME.onnx with a tile x tile input (checked against Keras before it appears);
    returns its metadata."""
    import onnx

    ensemble, state = load_run(Path(run), fold, trust=trust)
    target = Path(out) / f"{model_name(name, run)}.onnx"
    if target.exists():
        raise OutputError(f"{target}: already exists; choose another --name or folder")
    proto = convert(ensemble, size=tile)
    metadata = deepness_metadata(state, ensemble, tile)
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, json.dumps(value)
    difference = check_against_keras(onnx_session(proto), ensemble, size=tile)
    if not difference < 1e-4:
        raise OutputError(f"the ONNX model differs from the Keras model by {difference:.3g}; not exported")
    with created_folder(Path(out)), atomic_file(target) as temporary:  # nothing left if the write fails
        onnx.save(proto, str(temporary))
    return {**metadata, "path": str(target), "max_abs_difference": difference}
