"""quicklook.png: the scene, decimated, with the mapped landslides outlined."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from PIL import Image
from scipy import ndimage

from lim_tf.figures import display_rgb, scale_bar, with_key
from lim_tf.geo.grid import ground_resolution
from lim_tf.mapping.scene import Scene
from lim_tf.mapping.styles import LANDSLIDE_OPACITY, LANDSLIDE_RED, OUTLINE_YELLOW

OUTLINE, FILL = OUTLINE_YELLOW[:3], LANDSLIDE_RED[:3]  # as QGIS draws them
ROWS = 64  # output rows made per read, so memory stays bounded


def decimated_mask(landslides: Path, factor: int) -> np.ndarray:
    """Landslide pixels (value 1) pooled by `factor` with 'any', so small landslides stay visible."""
    with rasterio.open(landslides) as src:
        height, width = -(-src.height // factor), -(-src.width // factor)
        out = np.zeros((height, width), bool)
        for top in range(0, height, ROWS):
            rows = min(ROWS, height - top)
            window = rasterio.windows.Window(0, top * factor, src.width, min(rows * factor, src.height - top * factor))
            block = src.read(1, window=window) == 1
            padded = np.zeros((rows * factor, width * factor), bool)
            padded[: block.shape[0], : block.shape[1]] = block
            out[top:top + rows] = padded.reshape(rows, factor, width, factor).any(axis=(1, 3))
    return out


def write_quicklook(scene: Scene, landslides: Path, path: Path, max_size: int = 1024) -> None:
    """Write a PNG at most about `max_size` pixels across; reads are decimated, so memory stays small."""
    height, width = scene.shape
    factor = max(1, -(-max(height, width) // max_size))
    mask = decimated_mask(landslides, factor)
    bands = scene.indexes[:3] if len(scene.indexes) >= 3 else scene.indexes[:1]
    image = np.moveaxis(scene.dataset.read(bands, out_shape=(len(bands), *mask.shape)), 0, -1)
    rgb = display_rgb(image)
    outline = mask & ~ndimage.binary_erosion(mask, iterations=1)
    if max(mask.shape) >= 512:
        outline = ndimage.binary_dilation(outline)
    blend = rgb[mask] * (1 - LANDSLIDE_OPACITY) + np.asarray(FILL) * LANDSLIDE_OPACITY
    rgb[mask] = blend.astype(np.uint8)
    rgb[outline] = OUTLINE
    metres = ground_resolution(scene.dataset)
    bar = scale_bar(rgb.shape[1], metres * factor) if metres else None
    Image.fromarray(with_key(rgb, ((OUTLINE, "mapped landslide"),), "" if metres else "(no CRS: no scale)",
                             bar)).save(path)
