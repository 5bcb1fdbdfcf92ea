"""Custom layers the architectures share; each is registered so saved models reload by themselves."""

from __future__ import annotations

from lim_tf import PACKAGE
from lim_tf.runtime.quiet import keras, tf


@keras.saving.register_keras_serializable(package=PACKAGE)
class PadToMultiple(keras.layers.Layer):
    """Zero-pads height and width at the bottom/right up to a multiple of `multiple`, so any input
    size passes the encoder's five poolings; CropToReference undoes it."""

    def __init__(self, multiple: int = 32, **kwargs) -> None:
        super().__init__(**kwargs)
        self.multiple = multiple

    def call(self, inputs):
        shape = tf.shape(inputs)
        # Non-negative operands: ONNX's Mod truncates where TensorFlow's floors, so (-h) % m would
        # pad by a negative amount in an ONNX export.
        pad_h = (self.multiple - shape[1] % self.multiple) % self.multiple
        pad_w = (self.multiple - shape[2] % self.multiple) % self.multiple
        return tf.pad(inputs, [[0, 0], [0, pad_h], [0, pad_w], [0, 0]])

    def compute_output_shape(self, input_shape):
        return (input_shape[0], None, None, input_shape[3])

    def get_config(self):
        return {**super().get_config(), "multiple": self.multiple}


@keras.saving.register_keras_serializable(package=PACKAGE)
class CropToReference(keras.layers.Layer):
    """Crops the first input to the height and width of the second."""

    def call(self, inputs):
        tensor, reference = inputs
        shape = tf.shape(reference)
        return tensor[:, : shape[1], : shape[2], :]

    def compute_output_shape(self, input_shapes):
        tensor, reference = input_shapes
        return (tensor[0], reference[1], reference[2], tensor[3])


@keras.saving.register_keras_serializable(package=PACKAGE)
class MaxPoolWithArgmax(keras.layers.Layer):
    """2 x 2 max pooling that also returns the flat argmax indices SegNet's decoder unpools with."""

    def call(self, inputs):
        pooled, indices = tf.nn.max_pool_with_argmax(inputs, 2, 2, "VALID", include_batch_in_index=True)
        return pooled, indices

    def compute_output_shape(self, input_shape):
        half = lambda n: None if n is None else n // 2  # noqa: E731
        shape = (input_shape[0], half(input_shape[1]), half(input_shape[2]), input_shape[3])
        return shape, shape


@keras.saving.register_keras_serializable(package=PACKAGE)
class MaxUnpool(keras.layers.Layer):
    """Places each pooled value at its argmax position in a zero tensor shaped like `reference`."""

    def call(self, inputs):
        pooled, indices, reference = inputs
        shape = tf.shape(reference, out_type=tf.int64)
        flat = tf.scatter_nd(tf.reshape(indices, [-1, 1]), tf.reshape(pooled, [-1]),
                             [tf.reduce_prod(shape)])
        return tf.reshape(flat, shape)

    def compute_output_shape(self, input_shapes):
        return input_shapes[2]


@keras.saving.register_keras_serializable(package=PACKAGE)
class BilinearUpsample(keras.layers.Layer):
    """Fixed bilinear upsampling by an integer factor that also works when height and width are
    unknown while tracing (keras' UpSampling2D needs them static in graph mode)."""

    def __init__(self, factor: int = 2, **kwargs) -> None:
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, inputs):
        size = tf.shape(inputs)[1:3] * self.factor
        return tf.cast(tf.image.resize(inputs, size, method="bilinear"), inputs.dtype)

    def compute_output_shape(self, input_shape):
        scale = lambda n: None if n is None else n * self.factor  # noqa: E731
        return (input_shape[0], scale(input_shape[1]), scale(input_shape[2]), input_shape[3])

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


@keras.saving.register_keras_serializable(package=PACKAGE)
class PatchConv2D(keras.layers.Conv2D):
    """A same-padded, stride-1 convolution computed as one matrix product over k x k patches.

    FCN's fc6 is a 7 x 7 convolution with thousands of channels on a 1/32 map: a fully connected
    layer applied to every patch. oneDNN's convolution backward pass runs at a third of the matmul
    rate for that shape; gathering the patches (k^2 slices, whose gradients are cheap pads) and
    multiplying once runs near it. Same kernel shape and variable names as Conv2D, so weights load
    by name either way.
    """

    def __init__(self, filters: int, kernel_size: int | tuple[int, int], **kwargs) -> None:
        sizes = (kernel_size, kernel_size) if isinstance(kernel_size, int) else tuple(kernel_size)
        if sizes[0] != sizes[1] or sizes[0] % 2 != 1:
            raise ValueError(f"PatchConv2D needs a square, odd kernel, not {sizes}")
        kwargs.update(padding="same", strides=1, dilation_rate=1, data_format="channels_last")
        super().__init__(filters, kernel_size, **kwargs)

    def convolution_op(self, inputs, kernel):
        size = self.kernel_size[0]
        half = size // 2
        shape = tf.shape(inputs)
        padded = tf.pad(inputs, [[0, 0], [half, half], [half, half], [0, 0]])
        # Channel order (row, column, band) matches the kernel's (k, k, in, out) layout.
        patches = tf.concat([padded[:, i:i + shape[1], j:j + shape[2], :]
                             for i in range(size) for j in range(size)], axis=-1)
        flat = tf.reshape(patches, [-1, size * size * inputs.shape[-1]])
        weights = tf.reshape(tf.cast(kernel, inputs.dtype), [-1, self.filters])
        return tf.reshape(tf.matmul(flat, weights), tf.concat([shape[:3], [self.filters]], 0))

    def get_config(self):
        config = super().get_config()
        for key in ("padding", "strides", "dilation_rate", "data_format"):
            config.pop(key)
        return config


@keras.saving.register_keras_serializable(package=PACKAGE)
class FusedBatchNorm(keras.layers.BatchNormalization):
    """Keras' batch normalisation computed by TensorFlow's fused kernel (oneDNN's on x86).

    Keras 3 normalises with a dozen element-wise ops in float32 (casts, moments, scale, shift) and
    as many again for the gradient: on the CPU recipe they took more of the training step than every
    convolution together. The fused op reads a bfloat16 or float32 tensor once per pass and keeps
    its statistics in float32. Same variables and names as BatchNormalization, so weights load
    either way; the running statistics are updated as Keras does (biased batch variance, momentum).
    """

    def call(self, inputs, training=None, mask=None):
        if mask is not None or self.renorm or len(inputs.shape) != 4 or self.axis not in (-1, 3):
            return super().call(inputs, training=training, mask=mask)
        channels = inputs.shape[-1]
        scale = self.gamma if self.scale else tf.ones([channels], tf.float32)
        offset = self.beta if self.center else tf.zeros([channels], tf.float32)
        x = inputs if inputs.dtype in (tf.float16, tf.bfloat16, tf.float32) else tf.cast(inputs, tf.float32)
        if training and self.trainable:
            y, mean, variance = tf.compat.v1.nn.fused_batch_norm(x, scale, offset, epsilon=self.epsilon,
                                                                 is_training=True)
            # The kernel returns the unbiased variance; Keras keeps the biased one.
            count = tf.cast(tf.reduce_prod(tf.shape(x)[:3]), tf.float32)
            variance = variance * (count - 1.0) / count
            self.moving_mean.assign(self.moving_mean * self.momentum + mean * (1.0 - self.momentum))
            self.moving_variance.assign(self.moving_variance * self.momentum + variance * (1.0 - self.momentum))
        else:
            y, _, _ = tf.compat.v1.nn.fused_batch_norm(x, scale, offset, mean=self.moving_mean,
                                                       variance=self.moving_variance, epsilon=self.epsilon,
                                                       is_training=False)
        return tf.cast(y, self.compute_dtype)
