"""Whether the training step is compiled with XLA, and compiling it so.

Measured with benchmarks/bench_train.py --preset cpu --xla (U-Net w0.25 + VGG16-BN, batch 16 of
128 px tiles, alone on 2 cores): XLA trains 1.25 x faster in float32 on an AVX2-only Zen 3, and
0.51 x as fast in mixed bfloat16 on a Zen 4 (TensorFlow's XLA CPU backend has no fast bfloat16
convolutions). Keras's own "auto" leaves XLA off on every CPU-only machine.

Only the training step is compiled: validation and prediction run whole chips of many sizes, and
XLA compiles once for every shape it meets. Compiling the recipe's step takes about 40 s on the Zen
3 and saves about 0.4 s a step there, so short runs (tests, smoke runs) are left uncompiled.
"""

from __future__ import annotations

from lim_tf.runtime.quiet import keras, tf

MIN_STEPS = 500  # several times the steps that repay the compilation (about 100 for the recipe on a Zen 3)


def explain_xla(setting: str, policy: str, replicas: int = 1, gpu: bool | None = None,
                steps: int | None = None) -> tuple[bool, str]:
    """Whether `setting` ("auto", "on", "off") compiles the training step with XLA here, and why;
    `steps`: the training steps the run may take (None: unknown, assumed long)."""
    if setting != "auto":
        return setting == "on", "as asked"
    if replicas > 1:
        return False, "Keras does not compile a step mirrored over several devices with XLA"
    if steps is not None and steps < MIN_STEPS:
        return False, f"{steps} training steps: too few to repay the compilation (at least {MIN_STEPS})"
    if tf.config.list_physical_devices("GPU") if gpu is None else gpu:
        return True, "a GPU is visible (Keras's own default there)"
    if policy == "float32":
        return True, "float32 on a CPU: XLA trains 1.25 x faster (measured on an AVX2 Zen 3)"
    return False, f"{policy} on a CPU: XLA trains 0.51 x as fast (measured in mixed_bfloat16 on a Zen 4)"


def compile_training_step(model: keras.Model, xla: bool) -> None:
    """Use XLA for `model`'s training step only (a compiled model's test and predict functions
    are built now, without it). The setting stays on the model, so a step rebuilt later (the
    encoder unfrozen) keeps it."""
    model.jit_compile = False
    model.make_test_function(force=True)
    model.make_predict_function(force=True)
    model.jit_compile = xla
    model.make_train_function(force=True)
