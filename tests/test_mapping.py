"""Scene mapping: exact stitching with a known-answer model, georeferencing, nodata, areas, slope."""

import json
import time

import numpy as np
import pyogrio.raw
import pytest
import rasterio
import shapely
import shapely.ops
from conftest import shared_path
from helpers import assert_one_line_error, run
from PIL import Image
from pyproj import Transformer
from rasterio.transform import from_origin

from lim_tf.mapping.config import MapConfig, PredictConfig
from lim_tf.mapping.scene_map import map_scene
from lim_tf.mapping.summary import SceneSummary
from lim_tf.models import ModelConfig, build_model
from lim_tf.testing import BOXES, squares, threshold_model
from lim_tf.testing import write_rgb_scene as write_scene


@pytest.fixture
def equal_area_scene(tmp_path):
    band = squares(101, 117, BOXES)
    return write_scene(tmp_path / "scene.tif", "EPSG:6933", from_origin(1_000_000, 3_000_000, 10, 10), band), band


@pytest.mark.parametrize("tile, margin", [(32, 0), (64, 32), (1024, 32)])
def test_known_model_gives_the_exact_map_and_areas_for_any_tiling(equal_area_scene, tmp_path, tile, margin):
    scene, band = equal_area_scene
    model = threshold_model(tmp_path / "known.keras")
    config = MapConfig(predict=PredictConfig(tile=tile, margin=margin, batch_size=3))
    started = time.perf_counter()
    summary = map_scene(scene, model, tmp_path / "out", config, progress=False)
    elapsed = time.perf_counter() - started
    parts = summary.seconds  # disjoint stages: together no longer than the call
    assert set(parts) == {"load_model", "open_scene", "predict", "outputs"} and min(parts.values()) >= 0
    assert sum(parts.values()) <= elapsed
    with rasterio.open(scene) as src, rasterio.open(tmp_path / "out/landslides.tif") as mapped, \
            rasterio.open(tmp_path / "out/probability.tif") as probability:
        for output in (mapped, probability):
            assert (output.crs, output.transform, output.shape) == (src.crs, src.transform, src.shape)
        np.testing.assert_array_equal(mapped.read(1), (band >= 128).astype(np.uint8))
    assert summary.landslides == len(BOXES) and SceneSummary.load(tmp_path / "out") == summary  # as written
    meta, _, geometry, fields = pyogrio.raw.read(tmp_path / "out/inventory.gpkg", layer="inventory")
    assert rasterio.crs.CRS.from_user_input(meta["crs"]) == rasterio.crs.CRS.from_epsg(6933)
    areas = sorted(fields[list(meta["fields"]).index("area_m2")])
    expected = sorted(size * size * 100.0 for _, _, size in BOXES)  # 10 m pixels, equal-area CRS
    np.testing.assert_allclose(areas, expected, rtol=1e-4)


def test_nodata_stays_nodata(tmp_path):
    band = squares(64, 64, [(10, 10, 12)])
    band[:, 40:] = 0
    scene = write_scene(tmp_path / "scene.tif", "EPSG:32648", from_origin(500000, 3000000, 1, 1), band)
    with rasterio.open(scene, "r+") as dst:  # all bands zero on the right: nodata 0 there
        data = dst.read()
        data[:, :, 40:] = 0
        dst.write(data)
    map_scene(scene, threshold_model(tmp_path / "m.keras"), tmp_path / "out", MapConfig(nodata=0), progress=False)
    with rasterio.open(tmp_path / "out/landslides.tif") as mapped, rasterio.open(tmp_path / "out/probability.tif") as p:
        assert (mapped.read(1)[:, 40:] == mapped.nodata).all() and (mapped.read(1)[10:22, 10:22] == 1).all()
        assert (p.read(1)[:, 40:] == p.nodata).all() and (p.read(1)[:, :40] != p.nodata).all()


def test_tiled_network_agrees_with_a_whole_scene_prediction_up_to_the_border(tmp_path):
    model = build_model(ModelConfig(name="unet", width=1 / 16))
    model.save(tmp_path / "unet.keras")
    rng = np.random.default_rng(1)
    band = rng.integers(0, 256, (768, 768)).astype(np.uint8)
    scene = write_scene(tmp_path / "scene.tif", "EPSG:32648", from_origin(500000, 3000000, 1, 1), band)
    with rasterio.open(scene) as src:
        image = np.moveaxis(src.read(), 0, -1).astype(np.float32)[None]
    whole = np.asarray(model(image))[0, ..., 0]
    config = MapConfig(predict=PredictConfig(tile=256, margin=128, batch_size=1))
    map_scene(scene, tmp_path / "unet.keras", tmp_path / "out", config, progress=False)
    with rasterio.open(tmp_path / "out/probability.tif") as src:
        tiled = src.read(1)
    # Reads stop at the scene's border, so border tiles see what the whole-scene prediction sees.
    np.testing.assert_allclose(tiled, whole, atol=1e-5)


def test_geographic_scene_areas_match_an_equal_area_computation(tmp_path):
    band = squares(80, 80, [(10, 10, 15), (40, 50, 25)])
    scene = write_scene(tmp_path / "scene.tif", "EPSG:4326", from_origin(104.3, 27.3, 1e-4, 1e-4), band)
    map_scene(scene, threshold_model(tmp_path / "m.keras"), tmp_path / "out", progress=False)
    meta, _, geometry, fields = pyogrio.raw.read(tmp_path / "out/inventory.gpkg", layer="inventory")
    to_equal_area = Transformer.from_crs("EPSG:4326", "EPSG:6933", always_xy=True)
    for polygon, area in zip(shapely.from_wkb(geometry), fields[list(meta["fields"]).index("area_m2")]):
        projected = shapely.ops.transform(to_equal_area.transform, polygon)
        assert abs(area - projected.area) / projected.area < 0.01


def test_dem_slope_flags_and_drops_gentle_slopes(tmp_path):
    band = squares(60, 60, [(20, 5, 10), (20, 45, 10)])  # one box west, one east
    scene = write_scene(tmp_path / "scene.tif", "EPSG:32648", from_origin(500000, 3000000, 10, 10), band)
    # A DEM on another grid (7 m pixels, shifted): flat in the west, 25 degrees in the east.
    x = 499950 + 7 * (np.arange(110) + 0.5)
    elevation = np.tile(np.tan(np.radians(25)) * np.maximum(0, x - 500300), (110, 1)).astype(np.float32)
    with rasterio.open(tmp_path / "dem.tif", "w", driver="GTiff", width=110, height=110, count=1, dtype="float32",
                       crs="EPSG:32648", transform=from_origin(499950, 3000050, 7, 7)) as dst:
        dst.write(elevation, 1)
    config = MapConfig(dem=str(tmp_path / "dem.tif"), min_slope=15)
    map_scene(scene, threshold_model(tmp_path / "m.keras"), tmp_path / "out", config, progress=False)
    meta, _, _, fields = pyogrio.raw.read(tmp_path / "out/inventory.gpkg", layer="inventory")
    names = list(meta["fields"])
    by_lon = sorted(zip(fields[names.index("centroid_lon")], fields[names.index("mean_slope")],
                        fields[names.index("low_slope")]))
    (_, west_slope, west_low), (_, east_slope, east_low) = by_lon
    assert west_slope < 1 and west_low == 1 and abs(east_slope - 25) < 1 and east_low == 0
    dropped = MapConfig(dem=str(tmp_path / "dem.tif"), slope_action="drop")
    assert map_scene(scene, tmp_path / "m.keras", tmp_path / "out2", dropped, progress=False).landslides == 1


@pytest.mark.shared
def test_real_sentinel2_chip_maps_end_to_end(tmp_path):
    root = shared_path("sentinel2_chittagong")
    scene = root / "images/000000000013.tif"  # 98 % zeros: nodata handling matters
    result = run("map", scene, threshold_model(tmp_path / "m.keras"), tmp_path / "out", "--bands", "1,2,3",
                 "--nodata", "0", "--geojson")
    assert result.exit_code == 0, result.output
    with rasterio.open(scene) as src, rasterio.open(tmp_path / "out/landslides.tif") as mapped, \
            rasterio.open(tmp_path / "out/probability.tif") as probability:
        assert (mapped.crs, mapped.transform, mapped.shape) == (src.crs, src.transform, src.shape)
        nodata = np.all(src.read() == 0, axis=0)
        assert (mapped.read(1)[nodata] == mapped.nodata).all()
        assert (probability.read(1)[nodata] == probability.nodata).all()  # where the scene was mapped
        expected = (src.read(1) >= 128) & ~nodata
        np.testing.assert_array_equal(mapped.read(1)[~nodata] == 1, expected[~nodata])
    assert json.loads((tmp_path / "out/summary.json").read_text())["scene"].endswith("000000000013.tif")


def test_bad_mapping_inputs(equal_area_scene, tmp_path):
    scene, band = equal_area_scene
    model = threshold_model(tmp_path / "m.keras")
    (tmp_path / "notes.txt").write_text("not a raster")
    assert_one_line_error(run("map", tmp_path / "notes.txt", model, tmp_path / "o"), "not a raster")
    no_crs = write_scene(tmp_path / "nocrs.tif", None, from_origin(0, 100, 1, 1), band)
    assert_one_line_error(run("map", no_crs, model, tmp_path / "o"), "no CRS", "--allow-no-crs")
    assert run("map", no_crs, model, tmp_path / "o", "--allow-no-crs").exit_code == 0
    assert_one_line_error(run("map", scene, model, tmp_path / "o2", "--bands", "1,2"), "takes 3")
    with rasterio.open(tmp_path / "far.tif", "w", driver="GTiff", width=4, height=4, count=1, dtype="float32",
                       crs="EPSG:4326", transform=from_origin(-70, 10, 0.1, 0.1)) as dst:
        dst.write(np.zeros((1, 4, 4), np.float32))
    assert_one_line_error(run("map", scene, model, tmp_path / "o3", "--dem", tmp_path / "far.tif"), "does not overlap")
    assert not (tmp_path / "o3").exists()
    assert_one_line_error(run("map", scene, model, tmp_path / "o"), "already exists")
    (tmp_path / "broken.keras").write_bytes(b"PK-not-a-model")
    assert_one_line_error(run("map", scene, tmp_path / "broken.keras", tmp_path / "o4"), "cannot load")


def test_uint8_probability_is_scaled_and_unscales(equal_area_scene, tmp_path):
    scene, band = equal_area_scene
    config = MapConfig(predict=PredictConfig(probability_dtype="uint8"))
    map_scene(scene, threshold_model(tmp_path / "m.keras"), tmp_path / "out", config, progress=False)
    with rasterio.open(tmp_path / "out/probability.tif") as src:
        assert src.dtypes[0] == "uint8" and src.scales[0] == pytest.approx(1 / 254)
        expected = 1 / (1 + np.exp(-(band.astype(np.float64) - 128)))  # the known model
        np.testing.assert_allclose(src.read(1) * src.scales[0], expected, atol=0.5 / 254 + 1e-6)


def test_check_against_points_and_polygons(equal_area_scene, tmp_path):
    scene, _ = equal_area_scene
    transform = from_origin(1_000_000, 3_000_000, 10, 10)

    def centre(row, col):
        return transform * (col + 0.5, row + 0.5)

    # Two points inside mapped squares, one on background: 2 of 3 detected.
    points = [shapely.Point(*centre(7, 9)), shapely.Point(*centre(50, 50)), shapely.Point(*centre(60, 100))]
    pyogrio.raw.write(tmp_path / "points.gpkg", shapely.to_wkb(points), [np.arange(3)], ["id"], driver="GPKG",
                      geometry_type="Point", crs="EPSG:6933")
    summary = map_scene(scene, threshold_model(tmp_path / "m.keras"), tmp_path / "out",
                        MapConfig(inventory=str(tmp_path / "points.gpkg")), progress=False)
    check = summary.check
    assert check["detected"] == 2 and check["detected_share"] == pytest.approx(2 / 3)
    assert check["predicted_polygons"] == 4 and check["false_alarms"] == 2  # squares holding no point
    # Polygons: one overlapping a mapped square, one far away.
    (x0, y0), (x1, y1) = centre(40, 41), centre(45, 46)
    polygons = [shapely.box(min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1)), shapely.box(*centre(60, 100), *centre(58, 102))]
    pyogrio.raw.write(tmp_path / "polys.gpkg", shapely.to_wkb(polygons), [np.arange(2)], ["id"], driver="GPKG",
                      geometry_type="Polygon", crs="EPSG:6933")
    report = json.loads((tmp_path / "out/check.json").read_text())
    assert report == check
    result = run("map", scene, tmp_path / "m.keras", tmp_path / "out2", "--check", tmp_path / "polys.gpkg")
    assert result.exit_code == 0, result.output
    check = json.loads((tmp_path / "out2/check.json").read_text())
    assert check["detected"] == 1 and check["false_alarms"] == 3 and check["reference_types"] == ["Polygon"]


def test_quicklook_of_a_scene_larger_than_its_size_keeps_small_landslides(tmp_path):
    from lim_tf.mapping.quicklook import decimated_mask, write_quicklook
    from lim_tf.mapping.scene import SceneSpec, open_scene

    band = squares(101, 117, [(3, 5, 2), (60, 60, 30)])  # a 2-pixel landslide must survive 4x decimation
    path = write_scene(tmp_path / "scene.tif", "EPSG:32648", from_origin(500000, 3000000, 1, 1), band)
    mask_path = tmp_path / "mask.tif"
    write_scene(mask_path, "EPSG:32648", from_origin(500000, 3000000, 1, 1), (band >= 128).astype(np.uint8))
    pooled = decimated_mask(mask_path, 4)
    assert pooled.shape == (26, 30) and pooled[0:2, 1:3].any() and pooled[15:22, 15:22].all()
    scene = open_scene(SceneSpec(str(path)), 3)
    write_quicklook(scene, mask_path, tmp_path / "q.png", max_size=32)
    # The 30 x 26 decimated map, enlarged by a whole factor to a readable width, above its legend.
    from lim_tf.figures import READABLE

    factor = -(-READABLE // 30)
    width, height = Image.open(tmp_path / "q.png").size
    assert width == 30 * factor and height > 26 * factor


def test_a_tile_that_cannot_fit_in_memory_is_refused_up_front(tmp_path):
    from lim_tf.runtime.memory import available_bytes

    band = squares(64, 64, [(10, 10, 12)])
    scene = write_scene(tmp_path / "scene.tif", "EPSG:32648", from_origin(500000, 3000000, 1, 1), band)
    build_model(ModelConfig(name="unet", width=1 / 16)).save(tmp_path / "unet.keras")
    # A window whose largest layer alone outgrows the free memory many times over.
    side = int((available_bytes() / 50) ** 0.5) + 1
    result = run("map", scene, tmp_path / "unet.keras", tmp_path / "out", "--tile", str(side), "--batch-size", "64")
    assert_one_line_error(result, "needs about", "GiB are free", "lower --tile or --batch-size")
    assert not (tmp_path / "out").exists()


def test_the_memory_check_counts_onnx_runtimes_arena(monkeypatch):
    from lim_tf.errors import ConfigError
    from lim_tf.mapping.config import PredictConfig
    from lim_tf.mapping.predict import ACTIVATION_SCALE, check_memory
    from lim_tf.runtime import memory

    monkeypatch.setattr(memory, "available_bytes", lambda: 3 * 2**29)  # 1.5 GiB free
    config = PredictConfig(tile=1024, margin=32, batch_size=1)  # windows of 1088 x 1088
    # activations TensorFlow needs: 1 GiB with the 1.3 margin; ONNX Runtime's arena holds more
    estimate = {"weight_bytes": 0.0, "peak_bytes_per_pixel": 2**30 / 1.3 / 1088**2}
    check_memory(estimate, config, "tensorflow")
    assert ACTIVATION_SCALE["onnx"] > 1.5 and ACTIVATION_SCALE["onnx-int8"] > 1.5
    for runtime in ("onnx", "onnx-int8"):
        needed = f"{ACTIVATION_SCALE[runtime]:.1f}"  # GiB: the scale times TensorFlow's 1 GiB
        with pytest.raises(ConfigError, match=f"in {runtime} needs about {needed} GiB but 1.5 GiB are free"):
            check_memory(estimate, config, runtime)


def test_a_scene_in_a_crs_without_ground_units_is_refused(tmp_path):
    band = squares(32, 32, [(4, 4, 8)])
    scene = write_scene(tmp_path / "scene.tif", "EPSG:4978", from_origin(0, 0, 1, 1), band)  # geocentric
    result = run("map", scene, threshold_model(tmp_path / "m.keras"), tmp_path / "out")
    assert_one_line_error(result, "scene.tif", "neither projected nor geographic")
    assert not (tmp_path / "out").exists()


def test_uncertainty_is_the_spread_of_the_turned_predictions(tmp_path):
    rng = np.random.default_rng(5)
    band = rng.integers(0, 256, (64, 64)).astype(np.uint8)
    scene = write_scene(tmp_path / "scene.tif", "EPSG:32648", from_origin(500000, 3000000, 1, 1), band)
    model = build_model(ModelConfig(name="unet", width=1 / 16))
    model.save(tmp_path / "unet.keras")
    result = run("map", scene, tmp_path / "unet.keras", tmp_path / "out", "--uncertainty", "--tile", "64",
                 "--overlap", "0")
    assert result.exit_code == 0, result.output
    with rasterio.open(scene) as src:
        image = np.moveaxis(src.read(), 0, -1)[None].astype(np.float32)
    turns = [np.rot90(model.predict(np.ascontiguousarray(np.rot90(image, k, axes=(1, 2))), verbose=0), -k, axes=(1, 2))
             for k in range(4)]
    expected = np.std(np.stack(turns)[..., 0], axis=0)[0]  # population standard deviation of the four
    with rasterio.open(tmp_path / "out/uncertainty.tif") as src:
        np.testing.assert_allclose(src.read(1), expected, atol=1e-6)
    with rasterio.open(tmp_path / "out/probability.tif") as src:  # the probability is the unturned one still
        np.testing.assert_allclose(src.read(1), turns[0][0, ..., 0], atol=1e-6)
    meta, _, _, fields = pyogrio.raw.read(tmp_path / "out/inventory.gpkg", layer="inventory")
    assert "mean_uncertainty" in list(meta["fields"])


def test_polygons_below_the_confidence_cut_go_to_the_candidates_layer_whole(tmp_path):
    """A run whose confidence depends on the polygon's maximum probability alone: conf = sigmoid(20 p - 17).
    The model maps p = sigmoid(band1 - 128): squares of 200, 130 and 129 give p 1.0, 0.881 and 0.731,
    so confidence 0.953, 0.649 and 0.085; with the cut at 0.5 the third is a candidate."""
    import pyogrio

    from lim_tf.trained.confidence import ConfidenceModel
    from lim_tf.trained.fold import FoldSummary
    from lim_tf.trained.run import RunState

    band = np.full((64, 64), 50, np.uint8)
    band[4:14, 4:14], band[30:40, 30:40], band[50:60, 4:12] = 200, 130, 129
    scene = write_scene(tmp_path / "scene.tif", "EPSG:32648", from_origin(500000, 3000000, 1, 1), band)
    run_folder = tmp_path / "run"
    (run_folder / "fold0").mkdir(parents=True)
    threshold_model(run_folder / "fold0/model.keras")
    model = ConfidenceModel((0.0, 0.0, 20.0, 0.0), -17.0, (0.0,) * 4, (1.0,) * 4, 0.5, 1.0, {})
    RunState(band_names=("red", "green", "blue"), threshold=0.5, models=["fold0/model.keras"], records="none",
             folds={"0": FoldSummary("done")}, confidence=model.to_json()).save(run_folder)
    summary = map_scene(scene, run_folder, tmp_path / "out", MapConfig(), progress=False)
    assert (summary.landslides, summary.candidates, summary.confidence_cut) == (2, 1, 0.5)
    gpkg = tmp_path / "out/inventory.gpkg"
    assert [name for name, _ in pyogrio.list_layers(gpkg) if name in ("inventory", "candidates")] == \
        ["inventory", "candidates"]
    meta, _, _, fields = pyogrio.raw.read(gpkg, layer="inventory")
    columns = list(meta["fields"])
    confidence = sorted(fields[columns.index("confidence")])
    np.testing.assert_allclose(confidence, [0.6493, 0.9526], atol=2e-4)
    meta, _, geometry, fields = pyogrio.raw.read(gpkg, layer="candidates")
    columns = list(meta["fields"])
    assert len(geometry) == 1 and set(columns) >= {"area_m2", "mean_probability", "max_probability", "confidence",
                                                   "review"}
    assert fields[columns.index("area_m2")][0] == pytest.approx(80 / 0.9996**2, rel=1e-4)  # 10 x 8 m, UTM
    assert fields[columns.index("confidence")][0] == pytest.approx(0.0847, abs=2e-4)
    with rasterio.open(tmp_path / "out/landslides.tif") as landslides:  # the raster is the inventory's
        mapped = landslides.read(1) == 1
    assert mapped[4:14, 4:14].all() and mapped[30:40, 30:40].all() and not mapped[50:60, 4:12].any()


def test_fragments_joined_under_the_threshold_are_one_polygon_rated_on_the_group(tmp_path):
    """The model maps p = sigmoid(band1 - 128); the threshold 0.6 takes bands from 129, the group 0.3
    from 128. Squares of 200 left and right of a 128 bridge make one group of max 1.0, drawn as the
    two squares (the bridge is under the threshold); a lone 128 square (p 0.5) is a group that
    reaches no pixel at the threshold, drawn whole; a lone 129 square (p 0.731) is its own. With
    confidence sigmoid(20 max - 17) and the cut 0.5: the pair is kept (0.953), the others are
    candidates (0.0009, 0.085)."""
    import pyogrio

    from lim_tf.trained.confidence import ConfidenceModel
    from lim_tf.trained.fold import FoldSummary
    from lim_tf.trained.run import RunState

    band = np.full((64, 64), 50, np.uint8)
    band[4:14, 4:14], band[4:14, 14:20], band[4:14, 20:30] = 200, 128, 200
    band[40:50, 40:50], band[50:60, 4:12] = 128, 129
    scene = write_scene(tmp_path / "scene.tif", "EPSG:32648", from_origin(500000, 3000000, 1, 1), band)
    run_folder = tmp_path / "run"
    (run_folder / "fold0").mkdir(parents=True)
    threshold_model(run_folder / "fold0/model.keras")
    model = ConfidenceModel((0.0, 0.0, 20.0, 0.0), -17.0, (0.0,) * 4, (1.0,) * 4, 0.5, 1.0, {}, group=0.3)
    RunState(band_names=("red", "green", "blue"), threshold=0.6, models=["fold0/model.keras"], records="none",
             folds={"0": FoldSummary("done")}, confidence=model.to_json()).save(run_folder)
    summary = map_scene(scene, run_folder, tmp_path / "out", MapConfig(), progress=False)
    assert (summary.landslides, summary.candidates) == (1, 2)
    gpkg = tmp_path / "out/inventory.gpkg"
    meta, _, geometry, fields = pyogrio.raw.read(gpkg, layer="inventory")
    columns = list(meta["fields"])
    pair = shapely.from_wkb(geometry[0])
    assert pair.geom_type == "MultiPolygon" and len(pair.geoms) == 2
    assert fields[columns.index("confidence")][0] == pytest.approx(0.9526, abs=2e-4)
    assert fields[columns.index("area_m2")][0] == pytest.approx(200 / 0.9996**2, rel=1e-4)  # the squares only
    meta, _, geometry, fields = pyogrio.raw.read(gpkg, layer="candidates")
    columns = list(meta["fields"])
    found = sorted(zip(fields[columns.index("area_m2")], fields[columns.index("confidence")]))
    assert [round(a * 0.9996**2) for a, _ in found] == [80, 100]  # the 129 square, the faint one whole
    np.testing.assert_allclose([c for _, c in found], [0.0847, 0.0009], atol=2e-4)
    with rasterio.open(tmp_path / "out/landslides.tif") as landslides:  # the raster is the inventory's
        mapped = landslides.read(1) == 1
    assert mapped[4:14, 4:14].all() and mapped[4:14, 20:30].all() and not mapped[4:14, 14:20].any()
    assert mapped.sum() == 200


def test_a_map_into_folders_that_do_not_exist_yet(tmp_path):
    scene = write_scene(tmp_path / "scene.tif", "EPSG:32648", from_origin(500000, 3000000, 1, 1),
                        squares(64, 64, BOXES[:1]))
    result = run("map", scene, threshold_model(tmp_path / "m.keras"), tmp_path / "maps" / "2026" / "scene")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "maps/2026/scene/inventory.gpkg").exists()
