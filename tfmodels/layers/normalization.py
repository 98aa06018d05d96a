"""Normalization blocks beyond Keras' LayerNormalization: the root-mean-square norms of T5 and Llama, and Gemma's."""

from __future__ import annotations

import keras
import tensorflow as tf


class RMSNorm(keras.layers.Layer):
    """`weight * x / sqrt(mean(x**2) + epsilon)`, without centring or bias (T5's LayerNorm, Llama's RMSNorm).
    Computed in float32 whatever the input dtype, and returned in the input's dtype; the scale is one variable
    named `weight` (ones when fresh), the name the reference's files use.

    Example:
        >>> norm = RMSNorm(1e-6, name="layer_norm")
        >>> norm(tf.ones([2, 3, 8])).shape
        TensorShape([2, 3, 8])
    """

    def __init__(self, epsilon: float = 1e-6, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = epsilon

    def build(self, input_shape):
        self.weight = self.add_weight(name="weight", shape=(input_shape[-1],), initializer="ones")

    def call(self, hidden_states):
        dtype = hidden_states.dtype
        x = tf.cast(hidden_states, tf.float32)
        x = x * tf.math.rsqrt(tf.reduce_mean(tf.square(x), axis=-1, keepdims=True) + self.epsilon)
        return tf.cast(self.weight, dtype) * tf.cast(x, dtype)

    def get_config(self) -> dict:
        return {**super().get_config(), "epsilon": self.epsilon}


class GemmaRMSNorm(RMSNorm):
    """Gemma's RMSNorm: `x / sqrt(mean(x**2) + epsilon) * (1 + weight)`, all in float32 and then cast to the input's
    dtype (Llama's casts before scaling); the `weight` starts at zeros.

    Example:
        >>> GemmaRMSNorm(1e-6, name="input_layernorm")(tf.ones([2, 3, 8])).shape
        TensorShape([2, 3, 8])
    """

    def build(self, input_shape):
        self.weight = self.add_weight(name="weight", shape=(input_shape[-1],), initializer="zeros")

    def call(self, hidden_states):
        x = tf.cast(hidden_states, tf.float32)
        x = x * tf.math.rsqrt(tf.reduce_mean(tf.square(x), axis=-1, keepdims=True) + self.epsilon)
        return tf.cast(x * (1.0 + tf.cast(self.weight, tf.float32)), hidden_states.dtype)
