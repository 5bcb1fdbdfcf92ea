import pytest

from lim_tf.config import AugmentConfig, DataConfig, SplitConfig, dump_yaml, load_yaml, resolve_train_config
from lim_tf.errors import ConfigError


def test_yaml_round_trip(tmp_path):
    config = DataConfig(split=SplitConfig(test_landslide=70, folds=3),
                        augment=AugmentConfig(recipes=("ud_flip_gamma",), gamma_range=(0.5, 2.0)))
    dump_yaml(config, tmp_path / "c.yaml")
    assert load_yaml(DataConfig, tmp_path / "c.yaml") == config


def test_unknown_key_is_an_error(tmp_path):
    (tmp_path / "c.yaml").write_text("split:\n  fold: 3\n")
    with pytest.raises(ConfigError, match="unknown key.*fold"):
        load_yaml(DataConfig, tmp_path / "c.yaml")


def test_bad_literal_is_an_error(tmp_path):
    (tmp_path / "c.yaml").write_text("source:\n  format: shapefile\n")
    with pytest.raises(ConfigError, match="shapefile"):
        load_yaml(DataConfig, tmp_path / "c.yaml")


def test_cpu_recipe_scores_its_last_epoch():
    # Keras validates when (epoch + 1) % validation_every == 0; under a cosine schedule the last
    # epoch is usually the best, so it must be among the validated ones.
    config = resolve_train_config("cpu")
    assert config.epochs % config.validation_every == 0
    assert config.model == "unet" and config.encoder_bn


def test_data_config_options_override_the_yaml_which_overrides_the_defaults(tmp_path):
    from lim_tf.config import resolve_data_config

    (tmp_path / "c.yaml").write_text("split:\n  folds: 3\n  seed: 7\nchip:\n  resolution: 1.6\n")
    config = resolve_data_config(tmp_path / "c.yaml", {"split.folds": 4, "augment.copies": 2})
    assert (config.split.folds, config.split.seed, config.chip.resolution) == (4, 7, 1.6)
    assert config.augment.copies == 2 and config.split.test_landslide == DataConfig().split.test_landslide


def test_a_test_only_data_config_holds_every_sample_out():
    from lim_tf.config import resolve_data_config

    split = resolve_data_config(overrides={"split.folds": 5, "split.seed": 3}, test_only=True).split
    assert (split.test_landslide, split.test_non_landslide, split.folds, split.seed) == (1.0, 1.0, 0, 3)


def test_a_data_config_yaml_with_an_unknown_key_names_the_file(tmp_path):
    from lim_tf.config import resolve_data_config

    (tmp_path / "c.yaml").write_text("chip:\n  sise: 64\n")
    with pytest.raises(ConfigError, match=r"c\.yaml.*sise"):
        resolve_data_config(tmp_path / "c.yaml")
