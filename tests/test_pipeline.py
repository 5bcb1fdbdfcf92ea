"""The tf.data pipeline: training tiles, whole chips for evaluation, chip-kind sampling, augmentation."""

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lim_tf.config import DataConfig, SplitConfig
from lim_tf.data.build import build_dataset
from lim_tf.data.manifest import load_manifest
from lim_tf.data.pipeline import PipelineConfig, make_dataset
from lim_tf.errors import ConfigError

QUIET = PipelineConfig(batch_size=4, tile=16, photometric=False, scale_jitter=1.0, augment=False)


@pytest.fixture
def records(bijie_dir, tmp_path):
    out = tmp_path / "records"
    build_dataset(bijie_dir, out, DataConfig(split=SplitConfig(test_landslide=1, folds=2)), progress=False)
    return out


def count(dataset) -> int:
    return sum(int(batch[0].shape[0]) for batch in dataset)


def test_training_batches_are_tiles_with_raw_pixels(records):
    image, target, weight = next(iter(make_dataset(records, "train", 0, PipelineConfig(batch_size=4, tile=16))))
    assert image.shape == (4, 16, 16, 3) and target.shape == (4, 16, 16, 1) and weight.shape == (4, 16, 16)
    assert set(np.unique(target.numpy())) <= {0.0, 1.0}
    assert float(image.numpy().max()) > 1.0  # raw pixel values: normalisation is inside the model


def test_validation_and_test_give_every_chip_once_and_whole(records, bijie_dir):
    manifest = load_manifest(records)
    fold0 = manifest.examples["fold0"]
    assert fold0.augmented > 0
    assert count(make_dataset(records, "val", 0)) == fold0.total - fold0.augmented  # originals only
    assert count(make_dataset(records, "test")) == manifest.examples["test"].total
    stems = [p for p in (bijie_dir / "landslide/image").glob("*.png")] + list((bijie_dir / "non-landslide/image").glob("*.png"))
    source_sizes = sorted(Image.open(p).size[::-1] for p in stems)
    seen = []
    for image, _, weight in make_dataset(records, "test"):
        for one in weight.numpy():  # each chip whole: its unpadded extent is a source image's size
            assert one.shape[0] % 32 == 0 and one.shape[1] % 32 == 0
            rows, cols = np.nonzero(one)
            seen.append((rows.max() + 1, cols.max() + 1))
    assert len(seen) == manifest.examples["test"].total and all(size in source_sizes for size in seen)


def test_deterministic_mode_repeats_exactly(records):
    config = PipelineConfig(batch_size=3, tile=16, deterministic=True, seed=9)
    first = [b[0].numpy() for b in make_dataset(records, "train", 1, config).take(4)]
    second = [b[0].numpy() for b in make_dataset(records, "train", 1, config).take(4)]
    assert all(np.array_equal(a, b) for a, b in zip(first, second))


def test_fold_out_of_range(records):
    with pytest.raises(ConfigError, match="fold 7 is out of range"):
        make_dataset(records, "val", 7)


def test_batches_hold_chip_kinds_in_the_asked_share(tmp_path):
    from helpers import write_bijie

    root = write_bijie(tmp_path / "b", landslides=10, backgrounds=30, seed=4)
    build_dataset(root, tmp_path / "r", DataConfig(split=SplitConfig(test_landslide=0, folds=2)), progress=False)
    # Tiles larger than every chip and no rescaling: a landslide chip keeps all its landslide pixels.
    for share in (0.25, 0.7):
        config = PipelineConfig(batch_size=8, tile=64, landslide_share=share, scale_jitter=1.0, seed=1)
        kinds = [bool(t.any()) for _, target, _ in make_dataset(tmp_path / "r", "train", 0, config).take(100)
                 for t in target.numpy()]
        # 800 draws: the binomial standard deviation is at most 0.018.
        assert abs(np.mean(kinds) - share) < 0.06, (share, np.mean(kinds))


def write_encoded_bijie(root: Path, count: int = 6) -> Path:
    """Chips whose first band says where the landslide is: 250 inside, 10 outside."""
    rng = np.random.default_rng(5)
    for folder in ("landslide/image", "landslide/mask", "non-landslide/image"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    for i in range(count):
        height, width = (int(v) for v in rng.integers(30, 90, 2))
        mask = np.zeros((height, width), np.uint8)
        mask[height // 4: height // 4 + height // 2, width // 5: width // 5 + width // 2] = 255
        image = rng.integers(0, 256, (height, width, 3)).astype(np.uint8)
        image[..., 0] = np.where(mask > 0, 250, 10)
        Image.fromarray(image).save(root / f"landslide/image/ls_{i}.png")
        Image.fromarray(mask).save(root / f"landslide/mask/ls_{i}.png")
        Image.fromarray(image).save(root / f"non-landslide/image/nls_{i}.png")  # masks: all background
    return root


def test_masks_follow_every_geometric_change_and_photometry_changes_images_only(tmp_path):
    root = write_encoded_bijie(tmp_path / "b")
    build_dataset(root, tmp_path / "r", DataConfig(augment=DataConfig().augment.__class__(recipes=()),
                                                   split=SplitConfig(test_landslide=0, folds=2)), progress=False)
    geometric = PipelineConfig(batch_size=4, tile=48, landslide_share=1.0, scale_jitter=1.5, photometric=False,
                               seed=3, deterministic=True)
    with_photometry = PipelineConfig(**{**geometric.__dict__, "photometric": True})
    plain = list(make_dataset(tmp_path / "r", "train", 0, geometric).take(10))
    changed = list(make_dataset(tmp_path / "r", "train", 0, with_photometry).take(10))
    for (image, target, weight), (image2, target2, weight2) in zip(plain, changed):
        np.testing.assert_array_equal(target.numpy(), target2.numpy())
        np.testing.assert_array_equal(weight.numpy(), weight2.numpy())
        assert not np.allclose(image.numpy(), image2.numpy())
        band, inside, valid = image.numpy()[..., 0], target.numpy()[..., 0] > 0, weight.numpy() > 0
        # Away from the landslide's edge (where bilinear and nearest may differ by a pixel) the
        # mask says exactly where the bright band is, after rescaling, cropping, flips and turns.
        agree = (band > 130) == inside
        assert agree[valid].mean() > 0.97


def test_whole_chips_padded_for_batching_predict_as_alone(records):
    from lim_tf.data.records import read_records
    from lim_tf.models import ModelConfig, build_model

    manifest = load_manifest(records)
    stats = manifest.band_statistics
    model = build_model(ModelConfig(name="unet", width=1 / 16, mean=tuple(s.mean for s in stats),
                                    std=tuple(s.std for s in stats)))
    chips = [c for c in read_records([records / f for f in manifest.files["fold0"]]) if c.augmentation == "none"]
    batches = list(make_dataset(records, "val", 0, PipelineConfig(whole_chips_per_batch=4)))
    assert sum(len(b[0]) for b in batches) == len(chips)
    alone = sorted(float(np.asarray(model(c.image[None].astype(np.float32)))[0].sum()) for c in chips)
    padded = []
    for image, _, weight in batches:
        prediction = np.asarray(model(image))[..., 0]
        padded += [float((p * (w > 0)).sum()) for p, w in zip(prediction, weight.numpy())]
    np.testing.assert_allclose(sorted(padded), alone, rtol=1e-4)


def test_padding_is_ignored_and_holds_the_band_means(tmp_path):
    from helpers import write_bijie

    root = write_bijie(tmp_path / "b", landslides=3, backgrounds=3, seed=1)  # chips of 20..59 px
    build_dataset(root, tmp_path / "r", DataConfig(split=SplitConfig(test_landslide=0, folds=2)), progress=False)
    manifest = load_manifest(tmp_path / "r")
    means = np.array([s.mean for s in manifest.band_statistics], np.float32)
    config = PipelineConfig(batch_size=2, tile=96, scale_jitter=1.0, photometric=False)
    image, _, weight = next(iter(make_dataset(tmp_path / "r", "train", 0, config)))
    padded = weight.numpy() == 0
    assert padded.any()
    np.testing.assert_allclose(image.numpy()[padded], np.broadcast_to(means, image.numpy()[padded].shape), atol=1e-4)
