"""T5's relative position bias: query-key distances sorted into buckets (exact for short distances, logarithmic up
to `max_distance`), each bucket a learned bias per head, added to every layer's attention scores."""

from __future__ import annotations

import math

import keras
import tensorflow as tf

from tfmodels.layers.core import get_initializer


def relative_position_bucket(relative_position: tf.Tensor, bidirectional: bool = True, num_buckets: int = 32,
                             max_distance: int = 128) -> tf.Tensor:
    """The bucket of each `key position - query position` (int32), as Mesh TensorFlow and the reference compute it.

    Bidirectional (an encoder): half the buckets for keys after the query, half for keys before; otherwise (a
    causal decoder) keys after the query all share bucket 0. In each half, the first `num_buckets // 2` distances
    have a bucket each, larger ones share logarithmically wider buckets, and distances from `max_distance` on the
    last one.

    Example:
        >>> relative_position_bucket(tf.constant([-3, 0, 2]), num_buckets=8, max_distance=20).numpy()
        array([2, 0, 6], dtype=int32)
    """
    relative_position = tf.cast(relative_position, tf.int32)
    buckets = tf.zeros_like(relative_position)
    if bidirectional:
        num_buckets //= 2
        buckets += tf.cast(relative_position > 0, tf.int32) * num_buckets
        distance = tf.abs(relative_position)
    else:
        distance = -tf.minimum(relative_position, 0)
    max_exact = num_buckets // 2
    is_small = distance < max_exact
    # Distances below max_exact never use this branch; the maximum keeps log() finite for them.
    scaled = tf.math.log(tf.cast(tf.maximum(distance, max_exact), tf.float32) / max_exact)
    scaled = scaled / tf.cast(math.log(max_distance / max_exact), tf.float32) * (num_buckets - max_exact)
    large = tf.minimum(max_exact + tf.cast(scaled, tf.int32), num_buckets - 1)
    return buckets + tf.where(is_small, distance, large)


class RelativePositionBias(keras.layers.Layer):
    """The learned bias of each (bucket, head): one variable `embeddings` `[num_buckets, num_heads]` (the
    reference's `relative_attention_bias`, which T5 keeps in its first layer's self-attention).

    Example:
        >>> bias = RelativePositionBias(32, 128, num_heads=8, bidirectional=True, name="relative_attention_bias")
        >>> bias.build()
        >>> bias.position_bias(5, 5).shape
        TensorShape([1, 8, 5, 5])
    """

    def __init__(self, num_buckets: int, max_distance: int, num_heads: int, bidirectional: bool,
                 initializer_range: float = 0.02, **kwargs):
        super().__init__(**kwargs)
        self.num_buckets, self.max_distance = num_buckets, max_distance
        self.num_heads, self.bidirectional = num_heads, bidirectional
        self.initializer_range = initializer_range

    def build(self, input_shape=None):
        self.embeddings = self.add_weight(name="embeddings", shape=(self.num_buckets, self.num_heads),
                                          initializer=get_initializer(self.initializer_range))

    def position_bias(self, query_length, key_length, query_offset=0) -> tf.Tensor:
        """The bias `[1, heads, query_length, key_length]` of queries at positions `query_offset ...` (after the
        tokens already cached) against keys at positions `0 ...`."""
        query_positions = tf.range(query_length)[:, None] + tf.cast(query_offset, tf.int32)
        relative = tf.range(key_length)[None, :] - query_positions
        buckets = relative_position_bucket(relative, self.bidirectional, self.num_buckets, self.max_distance)
        values = tf.gather(self.embeddings, buckets)  # [q, k, heads]
        return tf.transpose(values, (2, 0, 1))[None]
