"""quicklook.png: the scene, decimated, with the mapped landslides outlined."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from PIL import Image
from scipy import ndimage

from lim_tf.figures import display_rgb
from lim_tf.scene import Scene

OUTLINE = (255, 230, 0)


def write_quicklook(scene: Scene, landslides: Path, path: Path, max_size: int = 1024) -> None:
    """Write a PNG at most `max_size` pixels across; reads are decimated, so memory stays small."""
    height, width = scene.shape
    scale = min(1.0, max_size / max(height, width))
    shape = (max(1, round(height * scale)), max(1, round(width * scale)))
    bands = scene.indexes[:3] if len(scene.indexes) >= 3 else scene.indexes[:1]
    image = np.moveaxis(scene.dataset.read(bands, out_shape=(len(bands), *shape)), 0, -1)
    with rasterio.open(landslides) as src:
        # Max-decimation keeps small landslides visible at quicklook scale.
        factor = max(1, int(round(1 / scale)))
        mask = src.read(1, out_shape=shape, resampling=rasterio.enums.Resampling.max) == 1 if factor > 1 \
            else src.read(1) == 1
    rgb = display_rgb(image)
    outline = mask & ~ndimage.binary_erosion(mask, iterations=1)
    outline = ndimage.binary_dilation(outline) if max(shape) >= 512 else outline
    rgb[outline] = OUTLINE
    Image.fromarray(rgb).save(path)
