"""A seeded synthetic landslide dataset: Bijie-layout chips and a georeferenced scene.

Vegetated slopes carry roads and bare-soil fields (look-alikes with straight edges and even
texture); landslide scars are elongated lobes with downslope streaks and a dark head scarp.
Most chips are background, as in Bijie, so the set is imbalanced but learnable.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyogrio.raw
import rasterio
import shapely
from PIL import Image, ImageDraw
from rasterio.features import shapes
from rasterio.transform import from_origin

from lim_tf.atomic import atomic_directory

SCENE_CRS = "EPSG:32648"  # UTM 48N, the zone of Bijie
SCENE_ORIGIN = (430000.0, 3020000.0)
PIXEL = 0.8  # metres, as Bijie's TripleSat chips: the chips and the scene share one ground resolution


@dataclass(frozen=True)
class SynthConfig:
    """Sizes and counts of the synthetic dataset."""

    landslide_chips: int = 60
    non_landslide_chips: int = 120
    min_size: int = 96
    max_size: int = 192
    scene_size: int = 1024
    scene_landslides: int = 14
    seed: int = 0


def _smooth_noise(rng: np.random.Generator, height: int, width: int, cell: int) -> np.ndarray:
    """Value noise in [0, 1] with features about `cell` pixels across."""
    grid = rng.random((height // cell + 2, width // cell + 2)).astype(np.float32)
    image = Image.fromarray(grid, mode="F").resize(((width // cell + 2) * cell, (height // cell + 2) * cell),
                                                   Image.Resampling.BICUBIC)
    return np.clip(np.asarray(image)[:height, :width], 0, 1)


def _vegetation(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    shade = 0.75 + 0.5 * _smooth_noise(rng, height, width, 64)  # hillslope illumination
    texture = 0.6 * _smooth_noise(rng, height, width, 6) + 0.4 * _smooth_noise(rng, height, width, 2)
    base = np.array([58, 92, 48], np.float32) + rng.normal(0, 6, 3)
    return base * shade[..., None] * (0.75 + 0.5 * texture[..., None])


def _polygon_mask(height: int, width: int, points: list[tuple[float, float]]) -> np.ndarray:
    canvas = Image.new("L", (width, height), 0)
    ImageDraw.Draw(canvas).polygon(points, fill=1)
    return np.asarray(canvas, bool)


def _landslide_outline(rng: np.random.Generator, height: int, width: int, length: float) -> tuple[list, float]:
    """An elongated lobe: narrow crown widening towards the toe, with ragged edges."""
    angle = rng.uniform(0, 2 * np.pi)
    direction = np.array([np.cos(angle), np.sin(angle)])
    normal = np.array([-direction[1], direction[0]])
    start = np.array([rng.uniform(0.2, 0.8) * width, rng.uniform(0.2, 0.8) * height]) - direction * length / 2
    steps = np.linspace(0, 1, 14)
    wobble = np.cumsum(rng.normal(0, 0.04 * length, steps.size))
    half_width = length * rng.uniform(0.12, 0.22) * (0.45 + steps) * rng.uniform(0.8, 1.2, steps.size)
    centres = start + np.outer(steps * length, direction) + np.outer(wobble, normal)
    left = centres + half_width[:, None] * normal
    right = centres - half_width[:, None] * normal
    return [tuple(p) for p in np.vstack([left, right[::-1]])], angle


def _paint_landslide(rng, image, mask, length) -> None:
    height, width = mask.shape
    outline, angle = _landslide_outline(rng, height, width, length)
    scar = _polygon_mask(height, width, outline)
    rows, cols = np.mgrid[0:height, 0:width]
    across = -cols * np.sin(angle) + rows * np.cos(angle)
    streaks = 0.5 + 0.5 * np.sin(across * rng.uniform(0.5, 0.9) + 3 * _smooth_noise(rng, height, width, 8))
    soil = np.array([172, 156, 134], np.float32) + rng.normal(0, 8, 3)
    colour = soil * (0.82 + 0.22 * streaks[..., None]) * (0.9 + 0.2 * _smooth_noise(rng, height, width, 3)[..., None])
    clumps = _smooth_noise(rng, height, width, 5) > 0.8  # surviving vegetation inside the scar
    paint = scar & ~clumps
    image[paint] = colour[paint]
    crown = _polygon_mask(height, width, outline[:3] + outline[-3:])  # dark head scarp
    image[crown & scar] *= 0.6
    mask[scar] = 1


def _paint_soil(rng, image) -> None:
    height, width = image.shape[:2]
    centre = rng.uniform(0, 1, 2) * (width, height)
    half = rng.uniform(8, 30, 2)  # metres: fields do not scale with the image
    angle = rng.uniform(0, np.pi)
    rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    corners = [tuple(centre + rotation @ (sx * half[0], sy * half[1])) for sx, sy in ((-1, -1), (1, -1), (1, 1), (-1, 1))]
    field = _polygon_mask(height, width, corners)
    tone = np.array([150, 122, 92], np.float32) + rng.normal(0, 10, 3)
    image[field] = tone * (0.95 + 0.1 * _smooth_noise(rng, height, width, 2)[field][:, None])


def _paint_road(rng, image) -> None:
    height, width = image.shape[:2]
    canvas = Image.new("L", (width, height), 0)
    points = [(rng.uniform(0, width), 0)]
    for y in np.linspace(0, height, 6)[1:]:
        points.append((points[-1][0] + rng.normal(0, width / 6), y))
    if rng.random() < 0.5:
        points = [(y * width / height, x * height / width) for x, y in points]
    ImageDraw.Draw(canvas).line(points, fill=1, width=int(rng.integers(3, 7)))
    road = np.asarray(canvas, bool)
    image[road] = np.array([148, 144, 136], np.float32) + rng.normal(0, 5, 3)


def draw_terrain(rng: np.random.Generator, height: int, width: int, landslides: int, fields: int,
                 roads: int) -> tuple[np.ndarray, np.ndarray]:
    """An RGB uint8 image with its 0/1 landslide mask."""
    image = _vegetation(rng, height, width)
    mask = np.zeros((height, width), np.uint8)
    for _ in range(roads):
        _paint_road(rng, image)
    for _ in range(fields):
        _paint_soil(rng, image)
    for _ in range(landslides):
        length = rng.uniform(0.45, 0.75) * min(height, width) if height < 400 else rng.uniform(50, 130)
        _paint_landslide(rng, image, mask, length)
    image += rng.normal(0, 3, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8), mask


def write_synthetic(out: Path, config: SynthConfig = SynthConfig(), overwrite: bool = False) -> Path:
    """Write OUT/bijie (Bijie layout) and OUT/scene (scene.tif, labels.tif, inventory.gpkg)."""
    rng = np.random.default_rng(config.seed)
    with atomic_directory(Path(out), overwrite) as root:
        for folder in ("landslide/image", "landslide/mask", "non-landslide/image"):
            (root / "bijie" / folder).mkdir(parents=True)
        for index in range(config.landslide_chips + config.non_landslide_chips):
            landslide = index < config.landslide_chips
            height, width = rng.integers(config.min_size, config.max_size + 1, 2)
            image, mask = draw_terrain(rng, int(height), int(width), int(landslide),
                                       int(rng.integers(0, 3)), int(rng.integers(0, 2)))
            if landslide:
                name = f"ls_{index:04d}.png"
                Image.fromarray(image).save(root / "bijie/landslide/image" / name)
                Image.fromarray(mask * 255).save(root / "bijie/landslide/mask" / name)
            else:
                name = f"nls_{index - config.landslide_chips:04d}.png"
                Image.fromarray(image).save(root / "bijie/non-landslide/image" / name)
        _write_scene(root / "scene", rng, config)
    return Path(out)


def _write_scene(folder: Path, rng: np.random.Generator, config: SynthConfig) -> None:
    folder.mkdir()
    size = config.scene_size
    image, mask = draw_terrain(rng, size, size, config.scene_landslides, size // 90, size // 250)
    transform = from_origin(*SCENE_ORIGIN, PIXEL, PIXEL)
    profile = dict(driver="GTiff", width=size, height=size, crs=SCENE_CRS, transform=transform,
                   tiled=True, blockxsize=256, blockysize=256, compress="deflate")
    with rasterio.open(folder / "scene.tif", "w", count=3, dtype="uint8", **profile) as dst:
        dst.write(np.moveaxis(image, -1, 0))
        dst.descriptions = ("red", "green", "blue")
    with rasterio.open(folder / "labels.tif", "w", count=1, dtype="uint8", **profile) as dst:
        dst.write(mask, 1)
    polygons = [shapely.geometry.shape(g) for g, v in shapes(mask, mask=mask > 0, transform=transform) if v == 1]
    ids = np.arange(1, len(polygons) + 1, dtype=np.int32)
    areas = np.array([p.area for p in polygons])  # m² in this projected CRS
    pyogrio.raw.write(folder / "inventory.gpkg", shapely.to_wkb(polygons), [ids, areas], ["id", "area_m2"],
                      driver="GPKG", geometry_type="Polygon", crs=SCENE_CRS)
