"""Tiles cut from one mosaic and named by their window (`<prefix>_<row0>_<row1>_<col0>_<col1>`, as
../shared/data/jiuzhaigou_train) stitched back into georeferenced rasters: the imagery and its labels
as one scene, or a block of columns of it, so a model is scored as `lim-tf map` meets a region.

The tiles carry no georeferencing and no stated pixel size: the rasters declare `--pixel` metres (1 m)
in a local projected CRS (UTM 48N, the zone Jiuzhaigou lies in) at an arbitrary origin, and say so in
their metadata. Ground no tile covers is no data (0 in the imagery, 255 in the labels).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import rasterio
from PIL import Image
from rasterio.transform import from_origin

CRS = "EPSG:32648"
ORIGIN = (300000.0, 3700000.0)  # arbitrary: the tiles say nothing of where they lie
LABEL_NODATA = 255


def window(path: Path) -> tuple[int, int, int, int]:
    """(row0, row1, col0, col1) of a tile in the mosaic, from its name."""
    return tuple(int(part) for part in path.stem.split("_")[-4:])  # type: ignore[return-value]


def tiles(folder: Path, columns: tuple[int, int] | None = None) -> list[Path]:
    """The tiles (images/*.jpg) whose columns lie within [col0, col1) of the mosaic, or all."""
    found = sorted((folder / "images").glob("*.jpg"))
    if columns is None:
        return found
    return [t for t in found if window(t)[2] >= columns[0] and window(t)[3] <= columns[1]]


def stitch(folder: Path, chosen: list[Path], image_out: Path, labels_out: Path, pixel: float = 1.0) -> None:
    """The chosen tiles as one scene (imagery) and its labels (0 background, 1 landslide, 255 no data),
    cropped to their bounding box."""
    windows = [window(t) for t in chosen]
    top, left = min(w[0] for w in windows), min(w[2] for w in windows)
    height, width = max(w[1] for w in windows) - top, max(w[3] for w in windows) - left
    transform = from_origin(ORIGIN[0] + left * pixel, ORIGIN[1] - top * pixel, pixel, pixel)
    common = dict(driver="GTiff", width=width, height=height, crs=CRS, transform=transform, tiled=True,
                  blockxsize=256, blockysize=256, compress="deflate", BIGTIFF="IF_SAFER")
    note = {"LIM_TF_NOTE": f"stitched from {len(chosen)} tiles of {folder}; {pixel} m pixels and the CRS are "
                           "declared, not known"}
    with rasterio.open(image_out, "w", count=3, dtype="uint8", nodata=0, **common) as image, \
            rasterio.open(labels_out, "w", count=1, dtype="uint8", nodata=LABEL_NODATA, **common) as labels:
        image.update_tags(**note)
        labels.update_tags(**note)
        for tile, (row0, row1, col0, col1) in zip(chosen, windows):
            pixels = np.asarray(Image.open(tile).convert("RGB"))
            pixels = np.where(pixels.max(axis=-1, keepdims=True) == 0, 1, pixels)  # 0 is no data
            mask = (np.asarray(Image.open(folder / "masks" / f"{tile.stem}.png")) > 127).astype(np.uint8)
            place = rasterio.windows.Window(col0 - left, row0 - top, col1 - col0, row1 - row0)
            image.write(np.moveaxis(pixels, -1, 0), window=place)
            labels.write(mask, 1, window=place)
        image.descriptions = ("red", "green", "blue")


BUFFER = 256  # columns left out between two blocks: one tile, so no landslide lies in both


def split_blocks(folder: Path, split_column: int, out: Path, left: str) -> dict[str, tuple[Path, Path, list[Path]]]:
    """The tiles left of `split_column` (less a tile of buffer) as block `left`, those right of it as
    block "test", each stitched once into OUT/<name>.tif and OUT/<name>-labels.tif: name -> (image,
    labels, tiles)."""
    blocks = {left: (out / f"{left}.tif", out / f"{left}-labels.tif", tiles(folder, (0, split_column - BUFFER))),
              "test": (out / "test.tif", out / "test-labels.tif", tiles(folder, (split_column, 10**9)))}
    for image, labels, chosen in blocks.values():
        if not image.exists():
            stitch(folder, chosen, image, labels)
    return blocks

