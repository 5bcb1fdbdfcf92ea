"""data/images.py: images and masks read as arrays, mask values mapped, bands chosen, bad files refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lim_tf.data.images import (
    band_indexes,
    check_declared_size,
    list_images,
    map_mask_values,
    match_by_stem,
    read_image,
    read_mask,
    select_bands,
    valid_pixels,
)
from lim_tf.data.sample import IGNORE
from lim_tf.errors import InputError
from lim_tf.testing import write_raster


def test_a_png_and_a_tiff_read_as_height_width_bands_in_their_own_dtype(tmp_path: Path) -> None:
    rgb = np.random.default_rng(0).integers(0, 255, (5, 7, 3), dtype=np.uint8)
    Image.fromarray(rgb).save(tmp_path / "a.png")
    assert np.array_equal(read_image(tmp_path / "a.png"), rgb)
    bands = np.arange(2 * 5 * 7, dtype=np.uint16).reshape(2, 5, 7)
    write_raster(tmp_path / "b.tif", bands, crs=None)
    got = read_image(tmp_path / "b.tif")
    assert got.dtype == np.uint16 and np.array_equal(got, np.moveaxis(bands, 0, -1))


def test_a_corrupt_or_missing_image_is_one_line_naming_it(tmp_path: Path) -> None:
    (tmp_path / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(InputError, match=r"broken.png: cannot decode image .*replace or remove the file"):
        read_image(tmp_path / "broken.png")
    with pytest.raises(InputError, match="gone.jpg: file not found"):
        read_image(tmp_path / "gone.jpg")
    with pytest.raises(InputError, match=r"declares 100000 x 100000 x 3 values \(27.9 GiB\)"):
        check_declared_size(tmp_path / "big.tif", 100_000, 100_000, 3, 1)


def test_mask_values_map_to_classes_and_undeclared_values_are_refused(tmp_path: Path) -> None:
    raw = np.array([[0, 255], [2, 1]], np.uint8)
    with pytest.raises(InputError, match=r"m.png: mask has values \[2\] besides the declared \[0, 1, 255\]"):
        map_mask_values(raw, ((0, "background"), (1, "landslide"), (255, "landslide")), "m.png")
    mapped = map_mask_values(raw, ((0, "ignore"), (1, "background"), (2, "landslide"), (255, "landslide")), "m")
    assert mapped.tolist() == [[IGNORE, 1], [1, 0]]


def test_a_grey_mask_saved_as_rgb_is_accepted_and_a_wrong_size_is_not(tmp_path: Path) -> None:
    grey = np.zeros((4, 6), np.uint8)
    grey[1:3, 2:5] = 255
    Image.fromarray(np.stack([grey] * 3, -1)).save(tmp_path / "rgb.png")
    assert read_mask(tmp_path / "rgb.png", (4, 6, 3)).tolist() == (grey // 255).tolist()
    with pytest.raises(InputError, match=r"rgb.png: mask is 6x4 but its image is 5x4"):
        read_mask(tmp_path / "rgb.png", (4, 5, 3))


def test_images_are_listed_by_name_and_matched_by_stem(tmp_path: Path) -> None:
    for name in ("b.png", "a.TIF", "notes.txt", "c.jpeg"):
        (tmp_path / name).write_bytes(b"")
    assert [p.name for p in list_images(tmp_path)] == ["a.TIF", "b.png", "c.jpeg"]
    assert match_by_stem(tmp_path, "a") == tmp_path / "a.TIF" and match_by_stem(tmp_path, "z") is None
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="empty: no images"):
        list_images(tmp_path / "empty")


def test_bands_are_chosen_by_name_or_one_based_index() -> None:
    names = ("B2", "B3", "B4", "B8")
    assert band_indexes(names, ("b4", "3", "B2"), "s2.tif") == [2, 2, 0]
    image = np.arange(4)[None, None, :] * np.ones((2, 2, 1))
    chosen, chosen_names = select_bands(image, names, ("4", "B2"), "s2.tif")
    assert chosen[0, 0].tolist() == [3, 0] and chosen_names == ("B8", "B2")
    with pytest.raises(InputError, match=r"s2.tif: no band '5'; bands are B2, B3, B4, B8 \(or 1-based indices 1..4\)"):
        band_indexes(names, ("5",), "s2.tif")


def test_valid_pixels_are_finite_and_not_nodata_in_every_band() -> None:
    image = np.array([[[0, 0], [0, 3]], [[np.nan, 1], [2, 2]]], np.float32)
    assert valid_pixels(image, 0).tolist() == [[False, True], [False, True]]
    assert valid_pixels(image, None).tolist() == [[True, True], [False, True]]
    assert valid_pixels(np.array([[[0], [5]]], np.uint8), 0).tolist() == [[False, True]]  # integers: nodata only
