"""TensorFlow and Keras, imported without the native start-up lines they print below any log level
(oneDNN notices, CUDA probing). Library modules import them from here, so `import lim_tf.train` in a
notebook is as quiet as the command line; -vv (LIM_TF_NATIVE_STDERR=1) keeps the lines."""

from lim_tf.runtime.process import native_stderr_silenced

with native_stderr_silenced():
    import keras
    import tensorflow as tf

    tf.config.list_physical_devices()  # device probing prints too (physical devices only: logical ones stay free)

__all__ = ["keras", "tf"]
