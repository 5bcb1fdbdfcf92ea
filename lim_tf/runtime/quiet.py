"""TensorFlow and Keras, imported without the native start-up lines they print below any log level
(oneDNN notices, CUDA probing) and after GDAL, so GDAL keeps its own libcurl (see
process.import_tensorflow_quietly). Library modules import them from here, so `import lim_tf.training.train`
in a notebook is as quiet as the command line; -vv (LIM_TF_NATIVE_STDERR=1) keeps the lines."""

from lim_tf.runtime.process import import_tensorflow_quietly, native_stderr_silenced

import_tensorflow_quietly()
with native_stderr_silenced():
    import keras
    import tensorflow as tf  # loaded above: this only binds the name

__all__ = ["keras", "tf"]
