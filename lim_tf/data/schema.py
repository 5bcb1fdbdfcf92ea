"""The TFRecord schema: one tf.train.Example per chip. tfrecords/README.md documents it too.

Images are stored losslessly as raw C-order bytes (height, width, channels) in `image/dtype`
(each record carries its own height and width: chips may differ in size)
(uint8, uint16 or float32: the dtype of every record in a set, recorded in the manifest), so
multi-band and float imagery round-trip exactly; files are GZIP-compressed.
Masks are uint8 class values: 0 background, 1 landslide, 255 ignore (unlabelled, nodata, padding).
"""

from __future__ import annotations

import numpy as np

from lim_tf.data.manifest import SCHEMA_VERSION  # noqa: E402,F401 - the version lives with the manifest
from lim_tf.data.sample import Chip
from lim_tf.runtime.quiet import tf

COMPRESSION = "GZIP"


def to_record_dtype(values: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Pixels computed in floating point, back in a dtype records hold: integers are rounded and
    clipped to `dtype`'s range; floats become float32 (the only float type the schema stores)."""
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        return np.clip(np.rint(values), info.min, info.max).astype(dtype)
    return np.asarray(values, dtype=np.float32)

FEATURES = {
    "image/raw": tf.io.FixedLenFeature([], tf.string),
    "image/dtype": tf.io.FixedLenFeature([], tf.string),
    "image/height": tf.io.FixedLenFeature([], tf.int64),
    "image/width": tf.io.FixedLenFeature([], tf.int64),
    "image/channels": tf.io.FixedLenFeature([], tf.int64),
    "image/band_names": tf.io.VarLenFeature(tf.string),
    "mask/raw": tf.io.FixedLenFeature([], tf.string),
    "sample/id": tf.io.FixedLenFeature([], tf.string),
    "sample/origin_id": tf.io.FixedLenFeature([], tf.string),
    "sample/source": tf.io.FixedLenFeature([], tf.string),
    "sample/is_landslide": tf.io.FixedLenFeature([], tf.int64),
    "sample/fold": tf.io.FixedLenFeature([], tf.int64),
    "sample/split": tf.io.FixedLenFeature([], tf.string),
    "sample/augmentation": tf.io.FixedLenFeature([], tf.string),
}


def _bytes(*values: bytes) -> tf.train.Feature:
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=list(values)))


def _int(value: int) -> tf.train.Feature:
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value)]))


def encode_chip(chip: Chip) -> bytes:
    """Serialize a chip to a tf.train.Example."""
    height, width, channels = chip.image.shape
    feature = {
        "image/raw": _bytes(np.ascontiguousarray(chip.image).tobytes()),
        "image/dtype": _bytes(chip.image.dtype.name.encode()),
        "image/height": _int(height),
        "image/width": _int(width),
        "image/channels": _int(channels),
        "image/band_names": _bytes(*(name.encode() for name in chip.band_names)),
        "mask/raw": _bytes(np.ascontiguousarray(chip.mask, np.uint8).tobytes()),
        "sample/id": _bytes(chip.chip_id.encode()),
        "sample/origin_id": _bytes(chip.origin_id.encode()),
        "sample/source": _bytes(chip.source.encode()),
        "sample/is_landslide": _int(chip.is_landslide),
        "sample/fold": _int(chip.fold),
        "sample/split": _bytes(chip.split.encode()),
        "sample/augmentation": _bytes(chip.augmentation.encode()),
    }
    # deterministic: map keys in sorted order, so every process (a Dask worker too) writes the same bytes.
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString(deterministic=True)


def decode_chip(serialized: bytes) -> Chip:
    """Deserialize a record to a Chip in numpy (for tools and tests; training uses parse_example)."""
    example = tf.train.Example.FromString(serialized)
    f = example.features.feature

    def text(key: str) -> str:
        return f[key].bytes_list.value[0].decode()

    def number(key: str) -> int:
        return int(f[key].int64_list.value[0])

    shape = (number("image/height"), number("image/width"), number("image/channels"))
    image = np.frombuffer(f["image/raw"].bytes_list.value[0], dtype=text("image/dtype")).reshape(shape)
    mask = np.frombuffer(f["mask/raw"].bytes_list.value[0], dtype=np.uint8).reshape(shape[:2])
    names = tuple(v.decode() for v in f["image/band_names"].bytes_list.value)
    return Chip(image, mask, text("sample/id"), text("sample/origin_id"), text("sample/source"),
                names, number("sample/fold"), text("sample/augmentation"))


def parse_example(serialized: tf.Tensor, dtype: tf.DType, channels: int) -> dict[str, tf.Tensor]:
    """Graph-side parse of one record: image [H, W, channels] in its stored dtype, mask uint8 [H, W],
    is_landslide and augmented (bools)."""
    parsed = tf.io.parse_single_example(serialized, FEATURES)
    shape = tf.stack([parsed["image/height"], parsed["image/width"]])
    image = tf.reshape(tf.io.decode_raw(parsed["image/raw"], dtype), tf.concat([shape, [channels]], 0))
    mask = tf.reshape(tf.io.decode_raw(parsed["mask/raw"], tf.uint8), shape)
    return {"image": image, "mask": mask, "is_landslide": parsed["sample/is_landslide"] > 0,
            "augmented": tf.not_equal(parsed["sample/augmentation"], "none")}
