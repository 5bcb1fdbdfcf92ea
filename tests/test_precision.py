"""Precision: `auto` never picks an emulated bfloat16 path, and a mixed model rebuilds in float32."""

from __future__ import annotations

import numpy as np
import pytest

from lim_tf.models import ModelConfig, build_model
from lim_tf.models.precision import as_float32, cpu_has_bf16, explain_precision

ZEN3_FLAGS = "flags : fpu vme avx avx2 fma bmi2"
ZEN4_FLAGS = "flags : fpu avx2 avx512f avx512bw avx512_bf16 avx512_vnni"


def test_bfloat16_units_are_read_off_the_cpu_flags():
    assert not cpu_has_bf16(ZEN3_FLAGS) and cpu_has_bf16(ZEN4_FLAGS) and cpu_has_bf16("flags: amx_bf16")


@pytest.mark.parametrize("gpu, bf16, chosen", [(False, False, "float32"), (False, True, "mixed_bfloat16"),
                                               (True, False, "mixed_float16"), (True, True, "mixed_float16")])
def test_auto_picks_what_the_hardware_computes_natively(gpu, bf16, chosen):
    policy, why = explain_precision("auto", gpu=gpu, bf16=bf16)
    assert policy == chosen and why


def test_an_explicit_precision_is_kept():
    assert explain_precision("mixed_bfloat16", gpu=False, bf16=False) == ("mixed_bfloat16", "as asked")


def test_a_mixed_model_rebuilt_in_float32_keeps_its_weights():
    config = dict(name="unet", bands=3, width=1 / 16, mean=(100.0,) * 3, std=(40.0,) * 3)
    mixed = build_model(ModelConfig(**config, policy="mixed_bfloat16"))
    rebuilt = as_float32(mixed)
    assert all(layer.dtype_policy.compute_dtype == "float32" for layer in rebuilt.layers)
    for a, b in zip(mixed.get_weights(), rebuilt.get_weights()):
        np.testing.assert_array_equal(a, b)
    images = np.random.default_rng(0).uniform(0, 255, (1, 32, 32, 3)).astype(np.float32)
    np.testing.assert_allclose(rebuilt.predict_on_batch(images), mixed.predict_on_batch(images), atol=0.05)
    plain = build_model(ModelConfig(**config, policy="float32"))
    assert as_float32(plain) is plain
