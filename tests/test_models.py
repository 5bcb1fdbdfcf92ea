import keras
import numpy as np
import pytest
import tensorflow as tf

from lim_tf.errors import ConfigError
from lim_tf.models import MODELS, ModelConfig, build_model, load_model, skip_inputs
from lim_tf.models.fcn import fcn_fl_logits, fcn_logits
from lim_tf.models.layers import FusedBatchNorm, MaxPoolWithArgmax, MaxUnpool, PatchConv2D
from lim_tf.models.segnet import segnet_logits
from lim_tf.models.unet import unet_logits
from lim_tf.runtime.memory import inference_bytes, training_bytes, weight_bytes

TINY = 1 / 16


@pytest.mark.parametrize("name", sorted(MODELS))
@pytest.mark.parametrize("bands", [3, 5])
def test_output_shape_at_several_sizes(name, bands):
    model = build_model(ModelConfig(name=name, bands=bands, width=TINY))
    for height, width in [(32, 32), (37, 45), (16, 64)]:
        x = np.random.default_rng(0).uniform(0, 255, (2, height, width, bands)).astype(np.float32)
        y = np.asarray(model(x))
        assert y.shape == (2, height, width, 1) and y.dtype == np.float32
        assert 0 <= y.min() and y.max() <= 1


def test_mixed_precision_output_is_float32():
    model = build_model(ModelConfig(name="fcn-fl", width=TINY, policy="mixed_bfloat16"))
    assert model.get_layer("block3_conv1").compute_dtype == "bfloat16"
    assert model.output.dtype == "float32"


def test_fcn_fl_joins_the_half_and_quarter_maps_that_fcn_lacks():
    fcn = build_model(ModelConfig(name="fcn", width=TINY))
    fcn_fl = build_model(ModelConfig(name="fcn-fl", width=TINY))
    assert len(skip_inputs(fcn)) == 2 and len(skip_inputs(fcn_fl)) == 4
    for level in (1, 2, 3, 4):
        assert fcn_fl.get_layer(f"score_pool{level}").input is fcn_fl.get_layer(f"block{level}_pool").output


def test_segnet_unpooling_puts_values_at_the_argmax_positions():
    x = np.random.default_rng(3).permutation(2 * 6 * 8 * 3).reshape(2, 6, 8, 3).astype(np.float32)
    pooled, indices = MaxPoolWithArgmax()(x)
    restored = np.asarray(MaxUnpool()([pooled, indices, x]))
    windows = x.reshape(2, 3, 2, 4, 2, 3).max(axis=(2, 4))
    expected = np.where(x == np.repeat(np.repeat(windows, 2, axis=1), 2, axis=2), x, 0)
    np.testing.assert_array_equal(restored, expected)


@pytest.mark.parametrize("kernel", [1, 3, 7])
def test_patch_convolution_equals_keras_conv2d_with_its_gradients(kernel):
    rng = np.random.default_rng(kernel)
    x = rng.normal(size=(2, 5, 9, 6)).astype(np.float32)
    patch = PatchConv2D(4, kernel, activation="relu")
    reference = keras.layers.Conv2D(4, kernel, padding="same", activation="relu")
    patch.build(x.shape)
    reference.build(x.shape)
    weights = [rng.normal(size=w.shape).astype(np.float32) for w in reference.get_weights()]
    patch.set_weights(weights)
    reference.set_weights(weights)
    results = []
    for layer in (patch, reference):
        inputs = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            y = layer(inputs)
            loss = tf.reduce_sum(y * y)
        results.append([y, *tape.gradient(loss, [inputs, *layer.trainable_variables])])
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("training", [True, False])
def test_fused_batch_norm_equals_keras_batch_norm_with_gradients_and_statistics(training):
    """Keras' own layer is the reference: outputs, gradients and the running statistics after a
    training call (Keras keeps the biased batch variance) match with the same weights."""
    rng = np.random.default_rng(7)
    x = rng.normal(3.0, 2.0, size=(2, 5, 7, 4)).astype(np.float32)
    fused, reference = FusedBatchNorm(momentum=0.9), keras.layers.BatchNormalization(momentum=0.9)
    for layer in (fused, reference):
        layer.build(x.shape)
    weights = [rng.normal(size=4).astype(np.float32), rng.normal(size=4).astype(np.float32),
               rng.normal(size=4).astype(np.float32), rng.uniform(0.5, 2.0, size=4).astype(np.float32)]
    results = []
    for layer in (fused, reference):
        layer.set_weights(weights)
        inputs = tf.constant(x)
        with tf.GradientTape() as tape:
            tape.watch(inputs)
            y = layer(inputs, training=training)
            loss = tf.reduce_sum(y * y * tf.range(4, dtype=tf.float32))
        results.append([y, *tape.gradient(loss, [inputs, *layer.trainable_variables]),
                        layer.moving_mean, layer.moving_variance])
    for ours, theirs in zip(*results):
        np.testing.assert_allclose(np.asarray(ours), np.asarray(theirs), rtol=1e-4, atol=1e-4)
    if training:  # the statistics moved towards the batch's: a mean near 3, a variance near 4
        assert np.all(np.abs(np.asarray(fused.moving_mean) - (0.9 * weights[2] + 0.1 * x.mean((0, 1, 2)))) < 1e-5)


def test_fused_batch_norm_in_bfloat16_keeps_float32_statistics():
    x = np.random.default_rng(1).normal(size=(2, 8, 8, 3)).astype(np.float32)
    layer = FusedBatchNorm(dtype="mixed_bfloat16")
    y = layer(tf.cast(x, tf.bfloat16), training=True)
    assert y.dtype == tf.bfloat16 and layer.moving_mean.dtype == "float32"
    normalised = (x - x.mean((0, 1, 2))) / np.sqrt(x.var((0, 1, 2)) + layer.epsilon)
    np.testing.assert_allclose(np.asarray(tf.cast(y, tf.float32)), normalised, atol=0.05)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_keras_round_trip_gives_identical_outputs(name, tmp_path):
    model = build_model(ModelConfig(name=name, bands=4, width=TINY, mean=(1, 2, 3, 4), std=(2, 2, 2, 2)))
    model.save(tmp_path / "m.keras")
    loaded = load_model(tmp_path / "m.keras")
    x = np.random.default_rng(0).uniform(0, 255, (1, 40, 24, 4)).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(model(x)), np.asarray(loaded(x)))


def test_normalisation_is_inside_the_model():
    mean, std = (100.0, 50.0, 20.0), (30.0, 10.0, 5.0)
    raw = build_model(ModelConfig(name="unet", width=TINY, mean=mean, std=std))
    plain = build_model(ModelConfig(name="unet", width=TINY))
    for layer in raw.layers:
        if layer.weights and layer.name != "normalize":
            plain.get_layer(layer.name).set_weights(layer.get_weights())
    x = np.random.default_rng(1).uniform(0, 255, (1, 32, 32, 3)).astype(np.float32)
    scaled = (x - np.array(mean, np.float32)) / np.array(std, np.float32)
    np.testing.assert_allclose(np.asarray(raw(x)), np.asarray(plain(scaled)), atol=1e-5)


def test_encoder_weights_load_by_name_from_a_local_file(tmp_path):
    reference = keras.applications.VGG16(include_top=False, weights=None, input_shape=(None, None, 3))
    path = tmp_path / "vgg16.weights.h5"
    reference.save_weights(path)
    std = (2.0, 3.0, 4.0, 5.0)
    model = build_model(ModelConfig(name="unet", bands=4, std=std, encoder_weights=str(path)))
    kernel = reference.get_layer("block1_conv1").get_weights()[0]
    own = model.get_layer("block1_conv1").get_weights()[0]
    np.testing.assert_allclose(own[:, :, :3], kernel[:, :, ::-1] * np.array(std[:3])[None, None, :, None], rtol=1e-6)
    np.testing.assert_array_equal(model.get_layer("block4_conv2").get_weights()[0],
                                  reference.get_layer("block4_conv2").get_weights()[0])


def test_weights_for_the_wrong_architecture_are_refused(tmp_path):
    other = keras.Sequential([keras.Input((8,)), keras.layers.Dense(2)])
    other.save_weights(tmp_path / "other.weights.h5")
    with pytest.raises(ConfigError, match="not VGG16 encoder weights"):
        build_model(ModelConfig(name="fcn", width=1.0, encoder_weights=str(tmp_path / "other.weights.h5")))


def test_imagenet_weights_offline_say_how_to_supply_the_file(tmp_path, monkeypatch):
    from lim_tf.models import vgg

    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(vgg, "IMAGENET_URL", "http://127.0.0.1:9/" + vgg.IMAGENET_FILE)  # nothing listens there
    monkeypatch.setattr(vgg.imagenet_weights, "__defaults__", (vgg.IMAGENET_URL, vgg.IMAGENET_MD5))
    with pytest.raises(ConfigError, match="could not be downloaded.*vgg16_weights_tf_dim_ordering_tf_kernels_notop.h5"):
        build_model(ModelConfig(name="unet", encoder_weights="imagenet"))
    assert not (tmp_path / "models" / vgg.IMAGENET_FILE).exists()


def test_imagenet_weights_are_downloaded_into_the_keras_cache_when_online(tmp_path, monkeypatch):
    import hashlib
    import http.server
    import threading
    from functools import partial

    import h5py
    from keras.src.legacy.saving import legacy_h5_format

    from lim_tf.models import vgg

    served = tmp_path / "www"
    served.mkdir()
    reference = keras.applications.VGG16(include_top=False, weights=None, input_shape=(None, None, 3))
    with h5py.File(served / vgg.IMAGENET_FILE, "w") as handle:  # the layout Keras publishes: legacy HDF5
        legacy_h5_format.save_weights_to_hdf5_group(handle, reference)
    md5 = hashlib.md5((served / vgg.IMAGENET_FILE).read_bytes()).hexdigest()
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    handler.log_message = lambda *args: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/{vgg.IMAGENET_FILE}"
        monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
        monkeypatch.setattr(vgg.imagenet_weights, "__defaults__", (url, md5))
        model = build_model(ModelConfig(name="fcn", encoder_weights="imagenet"))
    finally:
        server.shutdown()
    assert (tmp_path / "keras/models" / vgg.IMAGENET_FILE).exists()  # cached for the next run
    np.testing.assert_array_equal(model.get_layer("block5_conv3").get_weights()[0],
                                  reference.get_layer("block5_conv3").get_weights()[0])


def test_unknown_model_name():
    with pytest.raises(ConfigError, match="unknown model 'deeplab'"):
        build_model(ModelConfig(name="deeplab"))  # type: ignore[arg-type]


@pytest.mark.parametrize("name", sorted(MODELS))
def test_models_trace_with_unknown_height_and_width(name):
    import tensorflow as tf

    model = build_model(ModelConfig(name=name, width=TINY, policy="mixed_bfloat16"))
    traced = tf.function(model, input_signature=[tf.TensorSpec([None, None, None, 3], tf.float32)])
    for shape in [(1, 40, 55, 3), (2, 32, 32, 3)]:
        x = np.random.default_rng(0).uniform(0, 255, shape).astype(np.float32)
        np.testing.assert_allclose(np.asarray(traced(x)), np.asarray(model(x)), atol=1e-6)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_encoder_batch_norm_follows_every_encoder_convolution(name, tmp_path):
    model = build_model(ModelConfig(name=name, width=TINY, batch_norm=True))
    convs = [l.name for l in model.layers if l.name.startswith("block") and "_conv" in l.name]
    norms = [l.name for l in model.layers if l.name.startswith("block") and "_bn" in l.name]
    assert len(convs) == len(norms) == 13
    x = np.random.default_rng(0).uniform(0, 255, (1, 40, 50, 3)).astype(np.float32)
    model.save(tmp_path / "bn.keras")
    np.testing.assert_allclose(np.asarray(load_model(tmp_path / "bn.keras")(x)), np.asarray(model(x)), atol=1e-6)
    with pytest.raises(ConfigError, match="without batch normalisation"):
        build_model(ModelConfig(name=name, width=1.0, batch_norm=True, encoder_weights="imagenet"))


@pytest.mark.parametrize("name", sorted(MODELS))
def test_memory_estimates_count_every_layer_output(name):
    # SegNet's pooling layers return (values, indices); the estimate must count both, not fail.
    model = build_model(ModelConfig(name=name, width=0.0625, mean=(0.0,) * 3, std=(1.0,) * 3))
    weights = weight_bytes(model)
    # A training step holds at least the weights, their gradients and Adam's two moments, plus the
    # activations: the network's own output (one float per pixel) is a lower bound for those.
    assert training_bytes(model, 64 * 64, 2) > 4 * weights + 64 * 64 * 2 * 2
    assert inference_bytes([model], 64 * 64, 1) > weights


def _logits_model(logits_of, size: int = 64) -> keras.Model:
    inputs = keras.Input((size, size, 3))
    return keras.Model(inputs, logits_of(inputs, TINY, "float32"))


def _side(model: keras.Model, layer: str, output: bool = True) -> int:
    tensor = model.get_layer(layer).output if output else model.get_layer(layer).input
    return tensor.shape[1]


@pytest.mark.parametrize("logits_of, stride", [(fcn_logits, 8), (fcn_fl_logits, 2)])
def test_fcn_scores_at_its_finest_fused_stride_then_upsamples_bilinearly(logits_of, stride):
    model = _logits_model(logits_of)
    assert _side(model, "upscore_final", output=False) == 64 // stride  # FCN-8s at 1/8, FCN-FL at 1/2
    assert model.output.shape[1:] == (64, 64, 1)


def test_unet_joins_each_decoder_level_to_the_encoder_block_of_its_resolution():
    model = _logits_model(unet_logits)
    for level, side in zip((4, 3, 2, 1), (8, 16, 32, 64)):
        up, skip = model.get_layer(f"decoder{level}_concat").input
        assert up.shape[1] == skip.shape[1] == side
        assert skip is model.get_layer(f"block{level}_conv{3 if level > 2 else 2}").output


def test_segnet_unpools_each_block_to_its_encoder_features():
    model = _logits_model(segnet_logits)
    for block, side in zip((5, 4, 3, 2, 1), (4, 8, 16, 32, 64)):
        assert _side(model, f"decoder{block}_unpool") == side
    assert model.output.shape[1:] == (64, 64, 1)


def test_the_architecture_table_is_the_one_list_of_names():
    from typing import get_args

    from lim_tf.config import ModelName
    from lim_tf.models import MODELS

    assert list(MODELS) == list(get_args(ModelName))  # --model's choices and config checks come from the Literal


def test_saved_models_find_their_classes_by_names_that_never_move():
    """A .keras file names its custom classes by registered name, not module path: these names are
    what models saved before lim_tf/training/ and lim_tf/trained/ existed load by (the shipped
    weights are checked by tests/test_zoo.py)."""
    import lim_tf.metrics  # noqa: F401 - registers with its import
    import lim_tf.training.losses  # noqa: F401
    import lim_tf.training.optimizers  # noqa: F401

    registered = {name for name in keras.saving.get_custom_objects() if name.startswith("lim_tf>")}
    assert registered == {f"lim_tf>{name}" for name in (
        "BestF1", "BilinearUpsample", "CropToReference", "FocalLoss", "FusedAdam", "FusedBatchNorm", "LandslideScore",
        "MaxPoolWithArgmax", "MaxUnpool", "PadToMultiple", "PatchConv2D", "WarmupCosine", "WeightedCrossEntropy")}
