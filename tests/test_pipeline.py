import numpy as np
import pytest

from lim_tf.config import ChipConfig, DataConfig, SplitConfig
from lim_tf.data.build import build_dataset
from lim_tf.data.pipeline import PipelineConfig, make_dataset
from lim_tf.errors import ConfigError


@pytest.fixture
def records(bijie_dir, tmp_path):
    out = tmp_path / "records"
    build_dataset(bijie_dir, out, DataConfig(chip=ChipConfig(size=16), split=SplitConfig(test_landslide=1, folds=2)),
                  progress=False)
    return out


def count(dataset) -> int:
    return sum(int(batch[0].shape[0]) for batch in dataset)


def test_batches_have_the_right_shapes_and_targets(records):
    image, target, weight = next(iter(make_dataset(records, "train", 0, PipelineConfig(batch_size=4))))
    assert image.shape == (4, 16, 16, 3) and target.shape == (4, 16, 16, 1) and weight.shape == (4, 16, 16)
    assert set(np.unique(target.numpy())) <= {0.0, 1.0}
    assert float(image.numpy().max()) > 1.0  # raw pixel values: normalisation is inside the model


def test_train_and_validation_partition_the_folds(records):
    import json

    examples = json.loads((records / "manifest.json").read_text())["examples"]
    assert count(make_dataset(records, "train", 0)) == examples["fold1"]["total"]
    assert count(make_dataset(records, "val", 0)) == examples["fold0"]["total"]
    assert count(make_dataset(records, "test")) == examples["test"]["total"]
    assert count(make_dataset(records, "all")) == examples["fold0"]["total"] + examples["fold1"]["total"]


def test_deterministic_mode_repeats_exactly(records):
    config = PipelineConfig(batch_size=3, deterministic=True, seed=9)
    first = [b[0].numpy() for b in make_dataset(records, "train", 1, config)]
    second = [b[0].numpy() for b in make_dataset(records, "train", 1, config)]
    assert all(np.array_equal(a, b) for a, b in zip(first, second))


def test_fold_out_of_range(records):
    with pytest.raises(ConfigError, match="fold 7 is out of range"):
        make_dataset(records, "val", 7)
