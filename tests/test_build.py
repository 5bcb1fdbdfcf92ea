"""Building records: schema round trip, splits, imbalance statistics and reproducibility."""

import hashlib
import json
from collections import defaultdict

import numpy as np
from helpers import bilinear, nearest
from PIL import Image

from lim_tf.config import AugmentConfig, ChipConfig, DataConfig, SplitConfig
from lim_tf.data.build import build_dataset
from lim_tf.data.manifest import ExampleCounts, load_manifest
from lim_tf.data.records import read_records

SIZE = 32


def config(**augment) -> DataConfig:
    """The paper's resizing, one landslide test chip and no non-landslide ones (so the IR check
    below counts every non-landslide chip as training)."""
    return DataConfig(chip=ChipConfig(mode="resize", size=SIZE),
                      split=SplitConfig(test_landslide=1, test_non_landslide=0, folds=2, seed=4),
                      augment=AugmentConfig(**augment), examples_per_shard=4)


def all_chips(out):
    manifest = load_manifest(out)
    return list(read_records([out / f for files in manifest.files.values() for f in files]))


def originals(out):
    return [c for c in all_chips(out) if c.augmentation == "none"]


def test_decoded_pixels_equal_resized_source_pixels(bijie_dir, tmp_path):
    out = tmp_path / "records"
    build_dataset(bijie_dir, out, config(recipes=()), progress=False)
    chips = all_chips(out)
    assert len(chips) == 10
    for chip in chips:
        folder, stem = chip.chip_id.split("/")
        source = np.asarray(Image.open(bijie_dir / folder / "image" / f"{stem}.png"))
        expected = np.clip(np.rint(bilinear(source, SIZE)), 0, 255)
        assert np.abs(chip.image.astype(int) - expected).max() <= 1  # float32 vs float64 rounding
        assert (chip.image.astype(int) != expected).mean() < 0.01
        if folder == "landslide":
            mask = np.asarray(Image.open(bijie_dir / folder / "mask" / f"{stem}.png"))
            np.testing.assert_array_equal(chip.mask, (nearest(mask, SIZE) == 255).astype(np.uint8))
        else:
            assert not chip.mask.any()


def test_imbalance_ratio_against_an_independent_pixel_count(bijie_dir, tmp_path):
    out = tmp_path / "records"
    manifest = build_dataset(bijie_dir, out, config(), progress=False)
    chips = all_chips(out)
    test_ids = {c.origin_id for c in chips if c.split == "test"}
    landslide = background = 0
    for path in sorted((bijie_dir / "landslide/mask").glob("*.png")):
        if f"landslide/{path.stem}" in test_ids:
            continue
        small = nearest(np.asarray(Image.open(path)), SIZE) == 255
        landslide += small.sum()
        background += (~small).sum()
    background += SIZE * SIZE * len(list((bijie_dir / "non-landslide/image").glob("*.png")))
    assert manifest.imbalance_ratio["before_augmentation"] == background / landslide
    # Three recipes, one copy each, of every training landslide chip; flips keep pixel counts.
    training_landslide_chips = 6 - 1
    expected_after = (background + 3 * (training_landslide_chips * SIZE * SIZE - landslide)) / (4 * landslide)
    assert np.isclose(manifest.imbalance_ratio["after_augmentation"], expected_after)


def test_folds_are_stratified_and_augmented_copies_stay_with_their_origin(tmp_path):
    from helpers import write_bijie

    root = write_bijie(tmp_path / "b", landslides=20, backgrounds=30, seed=2)
    out = tmp_path / "records"
    cfg = DataConfig(chip=ChipConfig(mode="resize", size=16),
                     split=SplitConfig(test_landslide=5, test_non_landslide=0, folds=5, seed=0))
    build_dataset(root, out, cfg, progress=False)
    chips = all_chips(out)
    folds_of_origin = defaultdict(set)
    for chip in chips:
        folds_of_origin[chip.origin_id].add(chip.fold)
    assert all(len(f) == 1 for f in folds_of_origin.values())
    originals = [c for c in chips if c.augmentation == "none"]
    assert sum(c.split == "test" and c.is_landslide for c in originals) == 5
    assert not any(c.split == "test" and c.augmentation != "none" for c in chips)
    per_fold = [sum(c.fold == k and c.is_landslide for c in originals) for k in range(5)]
    assert per_fold == [3, 3, 3, 3, 3]  # 15 training landslide samples over 5 folds
    negatives = [sum(c.fold == k and not c.is_landslide for c in originals) for k in range(5)]
    assert negatives == [6, 6, 6, 6, 6]


def test_tiles_of_one_image_share_a_fold(tmp_path):
    from helpers import write_bijie

    root = write_bijie(tmp_path / "b", landslides=8, backgrounds=4, seed=5)
    cfg = DataConfig(chip=ChipConfig(mode="grid", size=16), split=SplitConfig(test_landslide=1, folds=3))
    out = tmp_path / "records"
    build_dataset(root, out, cfg, progress=False)
    folds_of_origin = defaultdict(set)
    for chip in all_chips(out):
        folds_of_origin[chip.origin_id].add(chip.fold)
        assert chip.image.shape == (16, 16, 3)
    assert all(len(f) == 1 for f in folds_of_origin.values())


def test_same_input_and_seed_give_byte_identical_records(bijie_dir, tmp_path):
    def digest(out):
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(out.iterdir())}

    build_dataset(bijie_dir, tmp_path / "a", config(), progress=False)
    build_dataset(bijie_dir, tmp_path / "b", config(), progress=False)
    assert digest(tmp_path / "a") == digest(tmp_path / "b")
    other = DataConfig(chip=ChipConfig(mode="resize", size=SIZE), split=SplitConfig(test_landslide=1, folds=2, seed=5))
    build_dataset(bijie_dir, tmp_path / "c", other, progress=False)
    assert digest(tmp_path / "a") != digest(tmp_path / "c")


def test_target_ir_is_reached(bijie_dir, tmp_path):
    # Masks cover about a ninth of each landslide chip, so IR can fall towards ~8, not below.
    manifest = build_dataset(bijie_dir, tmp_path / "r", config(target_ir=12.0, max_copies=30), progress=False)
    ratios = manifest.imbalance_ratio
    assert ratios["before_augmentation"] > 12.0 >= ratios["after_augmentation"]
    copies = sum(e.augmented for e in manifest.examples.values())
    assert copies > 0
    shards = json.loads((tmp_path / "r/manifest.json").read_text())["files"]
    assert all(len(files) >= 1 for files in shards.values())


def test_synthetic_data_builds_and_is_imbalanced(synthetic_dir, tmp_path):
    manifest = build_dataset(synthetic_dir / "bijie", tmp_path / "r", config(), progress=False)
    assert 5 < manifest.imbalance_ratio["before_augmentation"] < 200
    assert manifest.imbalance_ratio["after_augmentation"] < manifest.imbalance_ratio["before_augmentation"]


def shrink_by_two(image: np.ndarray) -> np.ndarray:
    """Antialiased bilinear halving, written out: weights 1, 3, 3, 1 (/8) along each axis, renormalised at
    the border (the triangle filter of a 2x reduction, centred between source pixels 2i and 2i+1)."""
    def axis(values: np.ndarray) -> np.ndarray:
        length = values.shape[0]
        out = []
        for i in range(length // 2):
            taps = [(2 * i - 1, 1), (2 * i, 3), (2 * i + 1, 3), (2 * i + 2, 1)]
            taps = [(j, w) for j, w in taps if 0 <= j < length]
            out.append(sum(w * values[j] for j, w in taps) / sum(w for _, w in taps))
        return np.stack(out)
    return np.swapaxes(axis(np.swapaxes(axis(image.astype(np.float64)), 0, 1)), 0, 1)


def test_native_chips_keep_their_size_or_come_to_the_asked_resolution(tmp_path):
    from helpers import write_bijie

    root = write_bijie(tmp_path / "b", landslides=4, backgrounds=2, seed=3, even=True)
    build_dataset(root, tmp_path / "same", DataConfig(split=SplitConfig(test_landslide=1, folds=2)), progress=False)
    manifest = load_manifest(tmp_path / "same")
    assert (manifest.chip_mode, manifest.chip_size, manifest.resolution) == ("native", None, 0.8)
    for chip in originals(tmp_path / "same"):  # Bijie pixels as they are: a lossless round trip
        folder, stem = chip.chip_id.split("/")
        np.testing.assert_array_equal(chip.image, np.asarray(Image.open(root / folder / "image" / f"{stem}.png")))
    build_dataset(root, tmp_path / "half", DataConfig(chip=ChipConfig(resolution=1.6),
                                                      split=SplitConfig(test_landslide=1, folds=2)), progress=False)
    assert load_manifest(tmp_path / "half").resolution == 1.6
    for chip in originals(tmp_path / "half"):  # 0.8 m -> 1.6 m: half the pixels each way
        folder, stem = chip.chip_id.split("/")
        source = np.asarray(Image.open(root / folder / "image" / f"{stem}.png"))
        assert chip.image.shape == (source.shape[0] // 2, source.shape[1] // 2, 3)
        assert np.abs(chip.image.astype(int) - np.rint(shrink_by_two(source))).max() <= 1
        if folder == "landslide":
            mask = np.asarray(Image.open(root / folder / "mask" / f"{stem}.png")) == 255
            np.testing.assert_array_equal(chip.mask, mask[1::2, 1::2])  # nearest: the second of each pair


def test_test_split_holds_both_kinds_in_the_datasets_ratio(tmp_path):
    from helpers import write_bijie

    root = write_bijie(tmp_path / "b", landslides=20, backgrounds=30, seed=2)
    manifest = build_dataset(root, tmp_path / "r", DataConfig(split=SplitConfig(test_landslide=0.2, folds=4)),
                             progress=False)
    assert (manifest.examples["test"].landslide, manifest.examples["test"].non_landslide) == (4, 6)
    counted = build_dataset(root, tmp_path / "c", DataConfig(split=SplitConfig(test_landslide=10, folds=4)),
                            progress=False)  # a count of landslide chips: the same share of the others
    assert (counted.examples["test"].landslide, counted.examples["test"].non_landslide) == (10, 15)


def test_a_test_only_record_set_holds_every_sample(tmp_path):
    from helpers import write_bijie

    root = write_bijie(tmp_path / "b", landslides=3, backgrounds=2, seed=2)
    manifest = build_dataset(root, tmp_path / "r", DataConfig(split=SplitConfig(test_landslide=1.0,
                                                                                test_non_landslide=1.0, folds=0)),
                             progress=False)
    assert manifest.folds == 0 and list(manifest.files) == ["test"]
    assert manifest.examples["test"] == ExampleCounts(total=5, landslide=3, non_landslide=2, augmented=0)
    one = build_dataset(root, tmp_path / "one", DataConfig(split=SplitConfig(test_landslide=1, folds=2)),
                        progress=False)
    assert one.examples["test"].landslide == 1  # an int is a count, 1.0 a fraction
