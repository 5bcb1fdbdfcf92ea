"""Settings of `lim-tf map`, one frozen dataclass per concern. No TensorFlow here: the command
line reads its defaults from this module before TensorFlow is imported."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ProbabilityDtype = Literal["float32", "uint8"]
SlopeAction = Literal["flag", "drop"]
Runtime = Literal["auto", "tensorflow", "onnx", "onnx-int8"]
Normalize = Literal["model", "scene"]
VectorFormat = Literal["gpkg", "geojson", "fgb"]  # the inventory's files: mapping/writers/


@dataclass(frozen=True)
class PolygonOptions:
    """Clean-up of the inventory polygons."""

    min_area: float = 0.0  # m²; smaller polygons are dropped
    fill_holes: bool = False
    simplify: float = 0.0  # tolerance in the scene's CRS units (0: keep pixel outlines)


@dataclass(frozen=True)
class PredictConfig:
    """Tiling of the scene for prediction."""

    # Largest core tile edge; each tile is read with `margin` pixels of context on every side that
    # has a neighbour and cropped back, since predictions near a window's edge see less context.
    # Both are rounded to 32. At 2048 the margin adds about 6 % work (13 % at 1024); memory is set
    # by the model's weights up to this size on a CPU (see benchmarks/bench_map.py).
    tile: int = 2048
    margin: int = 32
    batch_size: int = 2
    threshold: float = 0.5
    probability_dtype: ProbabilityDtype = "float32"


@dataclass(frozen=True)
class MapConfig:
    """Everything `lim-tf map` needs besides the scene, the model and the output folder."""

    predict: PredictConfig = PredictConfig()
    threshold: float | None = None  # None: the run's threshold
    fold: int | None = None  # None: the run's ensemble
    bands: tuple[str, ...] = ()  # 1-based indexes or band names, in the model's order
    nodata: float | None = None
    allow_no_crs: bool = False
    polygons: PolygonOptions = PolygonOptions()
    vectors: tuple[VectorFormat, ...] = ("gpkg",)  # the inventory's formats (gpkg first: QGIS and the review loop)
    dem: str | None = None
    min_slope: float = 15.0  # degrees; the paper notes most landslides lie on steeper slopes
    slope_action: SlopeAction = "flag"
    inventory: str | None = None  # reference points or polygons to check the map against
    sentinel2: bool = False  # the scene is a Level-2A .SAFE folder or a folder of B02/B03/B04 files
    # Map at this pixel size in metres; None: the model's training resolution (from its records),
    # so a model meets landslides at the size it learnt them. Without one, the scene's own pixels.
    resolution: float | None = None
    # Average each tile's prediction over this many quarter turns (1..4); None: as many as the
    # model's card or run chose its threshold with.
    tta: int | None = None
    uncertainty: bool = False  # uncertainty.tif and mean_uncertainty: spread over members and turns
    trust_model: bool = False  # load models that carry Python code (see models.load_model)
    # What runs the network: TensorFlow, or ONNX Runtime on the same weights converted (1.6-1.9 x as
    # fast as TensorFlow float32 on an AVX2-only CPU, the same scores; slower where bf16 exists), or
    # that graph in int8, calibrated on each scene's own windows.
    runtime: Runtime = "auto"  # timed on this machine: see mapping/runtime_choice.py
    # model: pixels as they are, normalised by the training imagery's statistics inside the model;
    # scene: first brought from the scene's own band statistics to those (another region's light)
    normalize: Normalize = "model"
    # Keep networks converted for ONNX Runtime in the user's cache folder (see lim_tf.runtime.cache),
    # so the next map of the same model (and, for int8, the same scene) skips the conversion.
    cache: bool = True
