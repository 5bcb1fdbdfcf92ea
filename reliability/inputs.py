"""Hostile inputs, drawn by hypothesis: each strategy writes files into a folder and gives the
lim-tf arguments that read them and the file a refusal must name."""

from __future__ import annotations

import io
import json
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from hypothesis import strategies as st
from PIL import Image

from lim_tf.testing import write_bijie

SAFE_FILL = 80  # background pixel value in the threshold model's band 1 (landslide at >= 128)


@dataclass(frozen=True)
class Scenario:
    """A fuzzed input: how to write it, and what to run on it."""

    kind: str
    write: object  # callable(folder, model) -> (args, culprit file name)


def corrupt(data: bytes, how: str, rng: np.random.Generator) -> bytes:
    """The bytes truncated or with some flipped, or as they are."""
    if how == "truncate" and len(data) > 8:
        return data[: int(rng.integers(1, len(data) - 1))]
    if how == "flip" and data:
        buffer = bytearray(data)
        for index in rng.integers(0, len(buffer), max(1, len(buffer) // 200)):
            buffer[index] ^= int(rng.integers(1, 256))
        return bytes(buffer)
    if how == "empty":
        return b""
    return data


MODES = ["L", "LA", "P", "RGB", "RGBA", "1", "I;16", "I", "F", "CMYK"]


def _encoded(array_mode: str, size: tuple[int, int], fmt: str, rng: np.random.Generator, nan: bool) -> bytes:
    height, width = size
    if array_mode in ("I", "I;16"):
        image = Image.fromarray(rng.integers(0, 60000, (height, width)).astype(np.uint16 if array_mode == "I;16"
                                                                               else np.int32))
    elif array_mode == "F":
        values = rng.random((height, width)).astype(np.float32) * 255
        if nan:
            values[rng.integers(0, height), rng.integers(0, width)] = rng.choice([np.nan, np.inf, -np.inf])
        image = Image.fromarray(values)
    else:
        image = Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8)).convert(array_mode)
    buffer = io.BytesIO()
    fmt = {"jpeg": "JPEG", "png": "PNG", "tiff": "TIFF"}[fmt]
    if fmt == "JPEG" and image.mode not in ("L", "RGB", "CMYK"):
        image = image.convert("RGB")
    if fmt == "PNG" and image.mode in ("F", "CMYK"):
        image = image.convert("RGB")
    image.save(buffer, fmt)
    return buffer.getvalue()


def _bomb(width: int, height: int) -> bytes:
    """A valid PNG header declaring far more pixels than the file holds."""
    import struct

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


def _good_bijie(root: Path, rng: np.random.Generator) -> None:
    """Three ordinary landslide chips and two others, so a build has folds to make."""
    write_bijie(root, landslides=3, backgrounds=2, seed=int(rng.integers(0, 2**31)), size=(24, 28))


@st.composite
def bijie_images(draw) -> Scenario:
    """One hostile image (or mask) among good Bijie chips, through `data build`."""
    seed = draw(st.integers(0, 2**31))
    fmt = draw(st.sampled_from(["png", "jpeg", "tiff"]))
    mode = draw(st.sampled_from(MODES))
    size = (draw(st.integers(1, 40)), draw(st.integers(1, 40)))
    how = draw(st.sampled_from(["none", "none", "truncate", "flip", "empty"]))
    target = draw(st.sampled_from(["image", "mask", "non-landslide", "bomb"]))
    mask_kind = draw(st.sampled_from(["good", "other size", "stray values", "missing", "rgb"]))
    nan = draw(st.booleans())

    def write(folder: Path, model: Path):
        rng = np.random.default_rng(seed)
        root = folder / "bijie"
        _good_bijie(root, rng)
        suffix = {"jpeg": ".jpg", "png": ".png", "tiff": ".tif"}[fmt]
        if target == "non-landslide":
            path = root / "non-landslide/image" / f"fuzz{suffix}"
            path.write_bytes(corrupt(_encoded(mode, size, fmt, rng, nan), how, rng))
            return ["data", "build", root, folder / "out", "--folds", "2", "--test-landslide", "0"], path.name
        image_path = root / "landslide/image" / f"fuzz{suffix}"
        mask_path = root / "landslide/mask" / "fuzz.png"
        if target == "bomb":
            image_path = root / "landslide/image" / "fuzz.png"
            image_path.write_bytes(_bomb(int(rng.integers(20000, 70000)), int(rng.integers(20000, 70000))))
            Image.fromarray(np.zeros((4, 4), np.uint8)).save(mask_path)
            return ["data", "build", root, folder / "out", "--folds", "2", "--test-landslide", "0"], image_path.name
        data = _encoded(mode, size, fmt, rng, nan)
        mask = np.zeros(size, np.uint8)
        mask[: size[0] // 2, : size[1] // 2] = 255
        if mask_kind == "other size":
            mask = np.zeros((size[0] + 1, size[1]), np.uint8)
        elif mask_kind == "stray values":
            mask[0, 0] = 7
        image_path.write_bytes(corrupt(data, how, rng) if target == "image" else data)
        if mask_kind != "missing":
            picture = Image.fromarray(mask).convert("RGB") if mask_kind == "rgb" else Image.fromarray(mask)
            buffer = io.BytesIO()
            picture.save(buffer, "PNG")
            mask_path.write_bytes(corrupt(buffer.getvalue(), how if target == "mask" else "none", rng))
        # A refusal may name the image or its mask: both are the fuzzed sample's files.
        return ["data", "build", root, folder / "out", "--folds", "2", "--test-landslide", "0"], "fuzz"

    return Scenario("bijie image", write)


@st.composite
def l4s_files(draw) -> Scenario:
    """A Landslide4Sense patch with wrong keys, dtypes or shapes, or a damaged file."""
    seed = draw(st.integers(0, 2**31))
    key = draw(st.sampled_from(["img", "img", "image", "data"]))
    dtype = draw(st.sampled_from(["float64", "float32", "int16", "uint8", "bool", "bytes"]))
    shape = draw(st.sampled_from([(16, 16, 14), (16, 16, 14), (16, 16), (16, 16, 3), (2, 16, 16, 14), (0, 16, 14)]))
    mask_shape = draw(st.sampled_from([(16, 16), (16, 16), (8, 16), (16, 16, 1)]))
    mask_values = draw(st.sampled_from(["01", "01", "0-2", "float"]))
    how = draw(st.sampled_from(["none", "none", "truncate", "flip"]))
    nan = draw(st.booleans())

    def write(folder: Path, model: Path):
        import h5py

        rng = np.random.default_rng(seed)
        root = folder / "l4s"
        (root / "img").mkdir(parents=True)
        (root / "mask").mkdir()
        for number in (1, 2, 3):
            with h5py.File(root / f"img/image_{number}.h5", "w") as handle:
                handle["img"] = rng.random((16, 16, 14))
            with h5py.File(root / f"mask/mask_{number}.h5", "w") as handle:
                handle["mask"] = (rng.random((16, 16)) > 0.8).astype(np.uint8)
        path = root / "img/image_9.h5"
        with h5py.File(path, "w") as handle:
            if dtype == "bytes":
                handle[key] = np.array([b"not", b"numbers"])
            else:
                values = rng.random(shape) * 10
                if nan and values.size:
                    values.flat[0] = np.nan
                handle[key] = values.astype(dtype)
        with h5py.File(root / "mask/mask_9.h5", "w") as handle:
            values = {"01": rng.integers(0, 2, mask_shape), "0-2": rng.integers(0, 3, mask_shape),
                      "float": rng.random(mask_shape)}[mask_values]
            handle["mask"] = values.astype(np.float32 if mask_values == "float" else np.uint8)
        path.write_bytes(corrupt(path.read_bytes(), how, rng))
        return ["data", "build", root, folder / "out", "--format", "l4s", "--folds", "2", "--test-landslide", "0"], \
            "_9.h5"

    return Scenario("l4s patch", write)


@st.composite
def scenes(draw) -> Scenario:
    """A GeoTIFF scene with odd georeferencing, dtypes, bands or damage, through `lim-tf map`."""
    seed = draw(st.integers(0, 2**31))
    geometry = draw(st.sampled_from(["north-up", "south-up", "rotated", "sheared", "pole", "antimeridian", "no crs",
                                     "tiny"]))
    dtype = draw(st.sampled_from(["uint8", "uint16", "float32", "float64", "int16"]))
    bands = draw(st.sampled_from([3, 3, 1, 4]))
    height, width = draw(st.integers(1, 90)), draw(st.integers(1, 90))
    special = draw(st.sampled_from(["none", "nan", "inf", "nodata", "all nodata"]))
    how = draw(st.sampled_from(["none", "none", "none", "truncate", "flip"]))

    def write(folder: Path, model: Path):
        import rasterio
        from rasterio.transform import Affine

        rng = np.random.default_rng(seed)
        values = rng.uniform(0, 250, (bands, height, width)).astype(dtype)
        nodata = None
        if special in ("nan", "inf") and dtype.startswith("float"):
            values[0, 0, 0] = np.nan if special == "nan" else np.inf
        if special in ("nodata", "all nodata"):
            nodata = 0
            values[:, : (height if special == "all nodata" else height // 2)] = 0
        crs, transform = "EPSG:32648", Affine(1, 0, 500000, 0, -1, 3000000)
        if geometry == "south-up":
            transform = Affine(1, 0, 500000, 0, 1, 3000000)
        elif geometry == "rotated":
            transform = Affine(0.7, 0.7, 500000, 0.7, -0.7, 3000000)
        elif geometry == "sheared":
            transform = Affine(1, 0.3, 500000, 0, -1, 3000000)
        elif geometry == "pole":
            crs, transform = "EPSG:4326", Affine(0.001, 0, 10, 0, -0.001, 89.999)
        elif geometry == "antimeridian":
            crs, transform = "EPSG:4326", Affine(0.0001, 0, 179.998, 0, -0.0001, 10)
        elif geometry == "no crs":
            crs = None
        elif geometry == "tiny":
            transform = Affine(1e-9, 0, 500000, 0, -1e-9, 3000000)
        path = folder / "scene.tif"
        with rasterio.open(path, "w", driver="GTiff", width=width, height=height, count=bands, dtype=dtype, crs=crs,
                           transform=transform, nodata=nodata) as dst:
            dst.write(values)
        path.write_bytes(corrupt(path.read_bytes(), how, rng))
        return ["map", path, model, folder / "out", "--bands", "1,1,1" if bands < 3 else "1,2,3"], path.name

    return Scenario("scene", write)


@st.composite
def inventories(draw) -> Scenario:
    """A reference inventory that is empty, invalid, of mixed geometry or damaged, through map --check."""
    seed = draw(st.integers(0, 2**31))
    kind = draw(st.sampled_from(["points", "polygons", "mixed", "invalid", "empty", "lines", "no crs",
                                 "geographic", "garbage"]))
    driver = draw(st.sampled_from(["GPKG", "GeoJSON"]))

    def write(folder: Path, model: Path):
        import pyogrio.raw
        import rasterio
        import shapely
        import shapely.ops
        from rasterio.transform import Affine

        rng = np.random.default_rng(seed)
        scene = folder / "scene.tif"
        with rasterio.open(scene, "w", driver="GTiff", width=64, height=64, count=3, dtype="uint8",
                           crs="EPSG:32648", transform=Affine(1, 0, 500000, 0, -1, 3000000)) as dst:
            dst.write(rng.integers(0, 256, (3, 64, 64)).astype(np.uint8))
        path = folder / ("inventory.gpkg" if driver == "GPKG" else "inventory.geojson")
        x, y = 500000 + rng.uniform(0, 60, 6), 3000000 - rng.uniform(0, 60, 6)
        shapes = {"points": [shapely.Point(a, b) for a, b in zip(x, y)],
                  "polygons": [shapely.box(a, b, a + 5, b + 5) for a, b in zip(x, y)],
                  "mixed": [shapely.Point(x[0], y[0]), shapely.box(x[1], y[1], x[1] + 4, y[1] + 4),
                            shapely.LineString([(x[2], y[2]), (x[3], y[3])])],
                  "invalid": [shapely.Polygon([(x[0], y[0]), (x[0] + 5, y[0] + 5), (x[0] + 5, y[0]),
                                               (x[0], y[0] + 5)])],
                  "empty": [], "lines": [shapely.LineString([(x[0], y[0]), (x[1], y[1])])],
                  "no crs": [shapely.Point(x[0], y[0])],
                  "geographic": [shapely.Point(105.0, 27.1), shapely.Point(-170, 89.9)]}.get(kind, [])
        if kind == "garbage":
            path.write_bytes(rng.bytes(300))
        else:
            crs = None if kind == "no crs" else ("EPSG:4326" if kind == "geographic" or driver == "GeoJSON"
                                                 else "EPSG:32648")
            if crs == "EPSG:4326" and kind not in ("geographic",):
                from pyproj import Transformer

                move = Transformer.from_crs("EPSG:32648", "EPSG:4326", always_xy=True).transform
                shapes = [shapely.ops.transform(move, s) for s in shapes]
            geometry_type = "Unknown" if kind in ("mixed", "empty") else shapes[0].geom_type if shapes else "Unknown"
            pyogrio.raw.write(path, shapely.to_wkb(shapes) if shapes else np.array([], dtype=object), [], [],
                              driver=driver, geometry_type=geometry_type, crs=crs)
        return ["map", scene, model, folder / "out", "--check", path], path.name

    return Scenario("inventory", write)


@st.composite
def damaged_records(draw) -> Scenario:
    """A record set with a damaged shard or an edited manifest, through eval --records and data verify."""
    seed = draw(st.integers(0, 2**31))
    what = draw(st.sampled_from(["shard", "manifest", "manifest", "missing shard"]))
    edit = draw(st.sampled_from(["folds", "band_names", "files", "chip_size", "examples", "image_dtype",
                                 "band_statistics", "resolution", "schema_version"]))
    value = draw(st.sampled_from(["five", -1, None, [], {}, 1e30, "uint64", [1, 2]]))
    command = draw(st.sampled_from(["eval", "verify", "stats", "train"]))
    how = draw(st.sampled_from(["truncate", "flip"]))

    def write(folder: Path, model: Path):
        import shutil

        rng = np.random.default_rng(seed)
        records = folder / "records"
        shutil.copytree(model.parent.parent / "records", records)
        manifest_path = records / "manifest.json"
        culprit = manifest_path.name
        if what == "manifest":
            manifest = json.loads(manifest_path.read_text())
            manifest[edit] = value
            manifest_path.write_text(json.dumps(manifest))
        else:
            shard = sorted(records.glob("*.tfrecord.gz"))[int(rng.integers(0, 3))]
            culprit = shard.name
            if what == "missing shard":
                shard.unlink()
            else:
                shard.write_bytes(corrupt(shard.read_bytes(), how, rng))
        run = model.parent.parent / "run"
        args = {"eval": ["eval", run, "--records", records, "--out", folder / "out", "--split", "all",
                         "--figures", "0"],
                "verify": ["data", "verify", records], "stats": ["data", "stats", records],
                "train": ["train", records, folder / "out", "--width", "0.0625", "--epochs", "1", "--tile", "32",
                          "--steps-per-epoch", "2", "--no-fold-processes"]}[command]
        return args, culprit

    return Scenario("records", write)


@st.composite
def configs(draw) -> Scenario:
    """YAML configs with wrong types, unknown keys or bad syntax, through train and data build."""
    key = draw(st.sampled_from(["epochs", "width", "loss", "tile", "folds", "landslide_share", "monitor",
                                "model", "split", "chip", "augment", "source", "schedule", "precision"]))
    value = draw(st.sampled_from(["'five'", "-3", "[1, 2]", "{a: 1}", "null", "1e999", "true", "'fcn'",
                                  "{test_landslide: 'x'}", "{mode: tiled}", "{recipes: [nope]}"]))
    syntax = draw(st.sampled_from(["ok", "ok", "ok", "tabs", "unclosed"]))
    target = draw(st.sampled_from(["train", "data"]))

    def write(folder: Path, model: Path):
        text = f"{key}: {value}\n"
        if syntax == "tabs":
            text = f"split:\n\t{key}: {value}\n"
        elif syntax == "unclosed":
            text = f"{key}: [1, 2\n"
        path = folder / "config.yaml"
        path.write_text(text)
        base = model.parent.parent
        if target == "train":
            return ["train", base / "records", folder / "out", "--config", path, "--epochs", "1", "--width", "0.0625",
                    "--tile", "32", "--steps-per-epoch", "2", "--no-fold-processes"], path.name
        return ["data", "build", base / "bijie", folder / "out", "--config", path], path.name

    return Scenario("config", write)


def _scene(path: Path, rng: np.random.Generator, size: int = 48) -> Path:
    import rasterio
    from rasterio.transform import Affine

    with rasterio.open(path, "w", driver="GTiff", width=size, height=size, count=3, dtype="uint8", crs="EPSG:32648",
                       transform=Affine(1, 0, 500000, 0, -1, 3000000)) as dst:
        dst.write(rng.integers(0, 256, (3, size, size)).astype(np.uint8))
    return path


@st.composite
def overlapping_paths(draw) -> Scenario:
    """An output that is, contains or lies inside an input (also through a symlink), or a name that
    becomes a path: every command must refuse and leave every input as it was."""
    seed = draw(st.integers(0, 2**31))
    command = draw(st.sampled_from(["map", "map folder", "build", "merge", "eval", "export", "train", "export name"]))
    relation = draw(st.sampled_from(["is", "contains", "inside", "via link"]))
    name = draw(st.sampled_from(["..", ".", ".hidden", "../../x", "a/../..", "/tmp/x"]))

    def write(folder: Path, model: Path):
        import shutil

        rng = np.random.default_rng(seed)
        base = model.parent.parent
        work = folder / "in"
        work.mkdir()
        records, run = work / "records", work / "run"
        shutil.copytree(base / "records", records)
        shutil.copytree(base / "run", run)
        state = json.loads((run / "run.json").read_text())
        state["records"] = str(records)
        (run / "run.json").write_text(json.dumps(state))
        scene = _scene(work / "scene.tif", rng)
        (folder / "link").symlink_to(work)
        inputs = {"map": scene, "map folder": work, "build": base / "bijie", "merge": records, "eval": records,
                  "export": run, "train": records, "export name": run}
        target = inputs[command]
        if command == "build":
            shutil.copytree(target, work / "bijie")
            target = work / "bijie"
        out = {"is": target, "contains": target.parent, "inside": target / "out",
               "via link": folder / "link" / target.relative_to(work) / "out"}[relation]
        args = {"map": ["map", scene, model, out, "--overwrite"], "map folder": ["map", work, model, out],
                "build": ["data", "build", target, out, "--folds", "2", "--test-landslide", "0", "--overwrite"],
                "merge": ["data", "merge", records, base / "records", out, "--overwrite"],
                "eval": ["eval", run, "--out", out, "--figures", "0", "--overwrite"],
                "export": ["export", run, out], "train": ["train", records, out, "--width", "0.0625", "--epochs", "1"],
                "export name": ["export", run, folder / "served", "--name", name]}[command]
        return args, "--name" if command == "export name" else "the input"

    return Scenario("overlapping paths", write)


@st.composite
def partnered_options(draw) -> Scenario:
    """Options that act only with another, given alone, and options checked late in the past (a bad
    CRS, cluster, DEM, reference or budget): refused before anything is read or written."""
    case = draw(st.sampled_from([
        ("build", ["--review"], "--review"), ("build", ["--labels", "x.gpkg"], "--labels"),
        ("build", ["--format", "geotiff", "--labelled-area", "a.gpkg"], "--labelled-area"),
        ("build", ["--review-margin", "5"], "--review-margin"), ("build", ["--max-copies", "3"], "--max-copies"),
        ("build", ["--stride", "8"], "--stride"), ("build", ["--include-dem", "--format", "l4s"], "--include-dem"),
        ("build", ["--cluster", "localhost"], "--cluster"), ("build", ["--cluster", "local:0"], "--cluster"),
        ("train", ["--freeze-encoder-epochs", "1"], "--freeze-encoder-epochs"),
        ("train", ["--keep-normalization"], "--keep-normalization"), ("train", ["--trust-model"], "--trust-model"),
        ("train", ["--time-budget", "45"], "--time-budget"), ("train", ["--time-budget", "0s"], "--time-budget"),
        ("map", ["--region-crs", "EPSG:999999"], "--region-crs"), ("map", ["--cluster", "local:x"], "--cluster"),
        ("map", ["--cluster", "nowhere"], "--cluster"), ("map", ["--dem", "missing.tif"], "missing.tif"),
        ("map", ["--check", "missing.gpkg"], "missing.gpkg"),
        ("export", ["--format", "onnx", "--version", "2"], "--version"), ("export", ["--tile-size", "256"], "--tile-size"),
        ("export", ["--format", "onnx", "--tile-size", "100"], "--tile-size")]))
    seed = draw(st.integers(0, 2**31))

    def write(folder: Path, model: Path):
        rng = np.random.default_rng(seed)
        base = model.parent.parent
        command, options, culprit = case
        out = folder / "out"
        scene = _scene(folder / "scene.tif", rng)
        args = {"build": ["data", "build", base / "bijie", out],
                "train": ["train", base / "records", out, "--width", "0.0625", "--epochs", "1"],
                "map": ["map", scene, scene, model, out], "export": ["export", base / "run", out]}[command]
        return [*args, *options], culprit

    return Scenario("partnered options", write)


@st.composite
def sentinel2_products(draw) -> Scenario:
    """A Level-2A .SAFE whose band files are damaged, empty, missing or of the wrong kind, through
    map --sentinel2: mapped, or refused naming the band file with nothing left beside OUT."""
    seed = draw(st.integers(0, 2**31))
    band = draw(st.sampled_from(["B02", "B03", "B04"]))
    how = draw(st.sampled_from(["truncate", "flip", "empty", "missing", "text", "none"]))
    suffix = draw(st.sampled_from([".jp2", ".tif"]))

    def write(folder: Path, model: Path):
        import rasterio
        from rasterio.transform import from_origin

        rng = np.random.default_rng(seed)
        granule = folder / "S2A_MSIL2A_FUZZ.SAFE/GRANULE/L2A_T45QYE/IMG_DATA/R10m"
        granule.mkdir(parents=True)
        driver = "JP2OpenJPEG" if suffix == ".jp2" else "GTiff"
        for name in ("B02", "B03", "B04"):
            path = granule / f"T45QYE_20200101T000000_{name}_10m{suffix}"
            with rasterio.open(path, "w", driver=driver, width=32, height=32, count=1, dtype="uint16",
                               crs="EPSG:32645", transform=from_origin(600000, 2500000, 10, 10)) as dst:
                dst.write(rng.integers(1000, 3000, (1, 32, 32)).astype(np.uint16))
            for extra in path.parent.glob(path.name + ".aux.xml"):
                extra.unlink()
            if name == band:
                if how == "missing":
                    path.unlink()
                elif how == "text":
                    path.write_text("<html>Access denied</html>")
                elif how != "none":
                    path.write_bytes(corrupt(path.read_bytes(), how, rng))
        return ["map", folder / "S2A_MSIL2A_FUZZ.SAFE", model, folder / "out", "--sentinel2", "--resolution", "10"], \
            band

    return Scenario("sentinel2 product", write)


STRATEGIES = {"bijie image": bijie_images, "l4s patch": l4s_files, "scene": scenes, "inventory": inventories,
              "records": damaged_records, "config": configs, "overlapping paths": overlapping_paths,
              "partnered options": partnered_options, "sentinel2 product": sentinel2_products}
