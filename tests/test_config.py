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
