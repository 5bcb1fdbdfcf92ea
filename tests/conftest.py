"""Shared fixtures: tiny seeded images, rasters and records written to tmp_path; real data lookup."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Converted networks are cached in a folder of the test session's own, never the user's ~/.cache.
os.environ["LIM_TF_CACHE"] = tempfile.mkdtemp(prefix="lim-tf-test-cache-")

from helpers import write_bijie  # noqa: E402

SHARED = Path(os.environ.get("LIM_TF_SHARED", Path(__file__).resolve().parents[2] / "shared")) / "data"


def shared_path(name: str) -> Path:
    """A folder of ../shared/data: skipped when absent, a failure when LIM_TF_REQUIRE_SHARED=1."""
    path = SHARED / name
    if not path.is_dir():
        if os.environ.get("LIM_TF_REQUIRE_SHARED") == "1":
            pytest.fail(f"real data {path} is missing and LIM_TF_REQUIRE_SHARED=1")
        pytest.skip(f"real data {path} is not present (expected ../shared/data beside the project)")
    return path


@pytest.fixture
def bijie_dir(tmp_path: Path) -> Path:
    """A Bijie-layout folder: 6 landslide and 4 non-landslide chips of varied sizes."""
    return write_bijie(tmp_path / "bijie", landslides=6, backgrounds=4, seed=1)


@pytest.fixture(scope="session")
def synthetic_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic dataset at a small size (shared by the tests that only read it)."""
    from lim_tf.data.synth import SynthConfig, write_synthetic

    root = tmp_path_factory.mktemp("synthetic") / "synth"
    return write_synthetic(root, SynthConfig(landslide_chips=12, non_landslide_chips=12, min_size=40,
                                             max_size=72, scene_size=192, scene_landslides=3, seed=3))


# A tiny network on 32-px tiles, one epoch: the plumbing, not the learning.
TINY_RUN = {"width": 1 / 16, "epochs": 1, "batch_size": 4, "tile": 32, "log_images": 0}


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory):
    """(root, records, run): a two-fold tiny FCN-FL on native chips of 20..59 px, trained once per session."""
    from lim_tf.config import DataConfig, SplitConfig, resolve_train_config
    from lim_tf.data.build import build_dataset
    from lim_tf.training.train import train

    root = tmp_path_factory.mktemp("trained")
    data = write_bijie(root / "bijie", landslides=8, backgrounds=4, seed=7)
    records = root / "records"
    build_dataset(data, records, DataConfig(split=SplitConfig(test_landslide=2, folds=2)), progress=False)
    config = resolve_train_config("fcn-flk", overrides=TINY_RUN)
    train(records, root / "run", config, progress=False)
    return root, records, root / "run"


@pytest.fixture
def records(bijie_dir: Path, tmp_path: Path) -> Path:
    """A record set of bijie_dir: one test landslide, two folds."""
    from lim_tf.config import DataConfig, SplitConfig
    from lim_tf.data.build import build_dataset

    out = tmp_path / "records"
    build_dataset(bijie_dir, out, DataConfig(split=SplitConfig(test_landslide=1, folds=2)), progress=False)
    return out
