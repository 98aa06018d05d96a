"""Multi-head attention: the functions, and the `MultiHeadAttention` block every architecture configures."""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import tensorflow as tf

from tfmodels.errors import ConfigError
from tfmodels.layers.core import make_linear
from tfmodels.layers.embeddings import replace_dense_weights
from tfmodels.layers.paths import build_at, leaf


def split_heads(x: tf.Tensor, num_heads: int, head_dim: int) -> tf.Tensor:
    """`[batch, seq, heads * dim]` -> `[batch, heads, seq, dim]`.

    Example:
        >>> split_heads(tf.zeros([2, 5, 64]), 4, 16).shape
        TensorShape([2, 4, 5, 16])
    """
    batch, seq = tf.shape(x)[0], tf.shape(x)[1]
    return tf.transpose(tf.reshape(x, (batch, seq, num_heads, head_dim)), (0, 2, 1, 3))


def merge_heads(x: tf.Tensor) -> tf.Tensor:
    """`[batch, heads, seq, dim]` -> `[batch, seq, heads * dim]` (the inverse of `split_heads`).

    Example:
        >>> merge_heads(tf.zeros([2, 4, 5, 16])).shape
        TensorShape([2, 5, 64])
    """
    batch, heads, seq, dim = tf.shape(x)[0], x.shape[1], tf.shape(x)[2], x.shape[3]
    return tf.reshape(tf.transpose(x, (0, 2, 1, 3)), (batch, seq, heads * dim))


def causal_bias(past_length, query_length, key_length, dtype: tf.DType) -> tf.Tensor:
    """Additive `[1, 1, q, k]` bias that hides, from the query at position `past_length + i`, every later key.

    Example:
        >>> causal_bias(0, 3, 3, tf.float32)[0, 0]  # rows: 0 -1e4 -1e4 / 0 0 -1e4 / 0 0 0
    """
    rows = tf.range(query_length)[:, None] + past_length
    allowed = tf.cast(tf.range(key_length)[None, :] <= rows, dtype)
    return ((1.0 - allowed) * tf.cast(-10000.0, dtype))[None, None]


def write_to_cache(cache: tf.Tensor, new: tf.Tensor, cache_position: tf.Tensor) -> tf.Tensor:
    """Write `new` (`[batch, heads, q, dim]`) into the preallocated `cache` (`[batch, heads, max_length, dim]`) at
    positions `cache_position .. cache_position + q - 1`; static shapes, so one XLA compilation serves every step."""
    length, steps = tf.shape(cache)[2], tf.shape(new)[2]
    offset = tf.range(length) - cache_position
    inside = tf.reshape((offset >= 0) & (offset < steps), [1, 1, -1, 1])
    spread = tf.gather(new, tf.clip_by_value(offset, 0, steps - 1), axis=2)
    return tf.where(inside, spread, tf.cast(cache, new.dtype))


def scaled_dot_product_attention(
    query: tf.Tensor,
    key: tf.Tensor,
    value: tf.Tensor,
    bias: tf.Tensor | None = None,
    dropout=None,
    head_mask: tf.Tensor | None = None,
    scale: bool = True,
    training: bool = False,
) -> tuple[tf.Tensor, tf.Tensor]:
    """Attention over `[batch, heads, seq, dim]` tensors. Returns `(context, probabilities)`.

    `bias` is added to the scores (padding and causal masks); `dropout` is a Keras Dropout applied to the
    probabilities; `head_mask` multiplies them.
    """
    scores = tf.matmul(query, key, transpose_b=True)
    if scale:
        scores = scores / tf.cast(tf.sqrt(tf.cast(query.shape[-1], tf.float32)), scores.dtype)
    if bias is not None:
        scores = scores + tf.cast(bias, scores.dtype)
    probs = tf.nn.softmax(scores, axis=-1)
    if dropout is not None:
        probs = dropout(probs, training=training)
    if head_mask is not None:
        probs = probs * tf.cast(head_mask, probs.dtype)
    return tf.matmul(probs, value), probs


@dataclasses.dataclass(frozen=True)
class AttentionNames:
    """Paths of an attention block's projections, relative to the block: separate `query`/`key`/`value`, or one
    fused `qkv` projection (GPT-2's `c_attn`); `output` is the projection after the heads are merged."""

    query: str | None = "query"
    key: str | None = "key"
    value: str | None = "value"
    output: str = "dense"
    qkv: str | None = None


class MultiHeadAttention(keras.layers.Layer):
    """Multi-head attention with the projections at the paths `names` gives: self-attention, or cross-attention
    when called with `key_value_states`; a key/value cache (`layer_past`: `[2, batch, heads, length, dim]`,
    concatenated to, or preallocated and written at `cache_position`); head masks, attention outputs and head
    pruning.

    Example:
        >>> attention = MultiHeadAttention(768, 12, AttentionNames("self/query", "self/key", "self/value",
        ...                                "output/dense"), name="attention")
    """

    def __init__(self, hidden_size: int, num_heads: int, names: AttentionNames, dropout: float = 0.0,
                 initializer_range: float = 0.02, linear: str = "dense", scale: bool = True, **kwargs):
        super().__init__(**kwargs)
        if hidden_size % num_heads:
            raise ConfigError(f"hidden_size ({hidden_size}) must be a multiple of num_attention_heads ({num_heads}).")
        self.hidden_size = hidden_size
        self.original_num_heads = num_heads
        self.num_heads = num_heads
        self.head_dim = hidden_size // num_heads
        self.names = names
        self.scale = scale
        self.pruned_heads: set[int] = set()

        def linear_at(path: str, units: int, input_dim: int):
            return make_linear(linear, units, input_dim, leaf(path), initializer_range)

        if names.qkv is not None:
            self.qkv = linear_at(names.qkv, 3 * hidden_size, hidden_size)
        else:
            self.query = linear_at(names.query, hidden_size, hidden_size)
            self.key = linear_at(names.key, hidden_size, hidden_size)
            self.value = linear_at(names.value, hidden_size, hidden_size)
        self.output_projection = linear_at(names.output, hidden_size, hidden_size)
        self.dropout = keras.layers.Dropout(dropout, name="dropout")

    def build(self, input_shape=None):
        names = self.names
        if names.qkv is not None:
            build_at(self.qkv, names.qkv, (None, None, self.hidden_size))
        else:
            build_at(self.query, names.query, (None, None, self.hidden_size))
            build_at(self.key, names.key, (None, None, self.hidden_size))
            build_at(self.value, names.value, (None, None, self.hidden_size))
        build_at(self.output_projection, names.output, (None, None, self.hidden_size))

    def _heads(self, x: tf.Tensor) -> tf.Tensor:
        return split_heads(x, self.num_heads, self.head_dim)

    def call(self, hidden_states, key_value_states=None, attention_bias=None, head_mask=None, layer_past=None,
             cache_position=None, use_cache: bool = False, output_attentions: bool = False, query_scale=None,
             training=False):
        """Returns `(output, present, probabilities)`: `present` is the updated self-attention cache when
        `use_cache` (None otherwise, and for cross-attention), `probabilities` None unless `output_attentions`."""
        if self.names.qkv is not None:
            query, key, value = (self._heads(t) for t in tf.split(self.qkv(hidden_states), 3, axis=-1))
        else:
            source = hidden_states if key_value_states is None else key_value_states
            query = self._heads(self.query(hidden_states))
            key, value = self._heads(self.key(source)), self._heads(self.value(source))
        present = None
        if key_value_states is None:
            if layer_past is not None:
                past_key, past_value = tf.unstack(layer_past, num=2, axis=0)
                if cache_position is None:
                    key = tf.concat([tf.cast(past_key, key.dtype), key], axis=-2)
                    value = tf.concat([tf.cast(past_value, value.dtype), value], axis=-2)
                else:
                    key = write_to_cache(past_key, key, cache_position)
                    value = write_to_cache(past_value, value, cache_position)
            if use_cache:
                present = tf.stack([key, value], axis=0)
        if query_scale is not None:
            query = query * tf.cast(query_scale, query.dtype)
        context, probs = scaled_dot_product_attention(query, key, value, bias=attention_bias, dropout=self.dropout,
                                                      head_mask=head_mask, scale=self.scale, training=training)
        output = self.output_projection(merge_heads(context))
        return output, present, (probs if output_attentions else None)

    def prune(self, heads) -> list[int]:
        """Remove `heads` (indices of the unpruned block) from the projections; returns the heads removed."""
        if self.names.qkv is not None:
            raise NotImplementedError("Head pruning is not supported with a fused query/key/value projection.")
        heads = {int(h) for h in heads} - self.pruned_heads
        if not heads:
            return []
        current = [h for h in range(self.original_num_heads) if h not in self.pruned_heads]
        kept = [h for h in current if h not in heads]
        size = self.head_dim
        index = (np.concatenate([np.arange(current.index(h) * size, (current.index(h) + 1) * size) for h in kept])
                 if kept else np.zeros((0,), np.int64))
        for dense in (self.query, self.key, self.value):
            replace_dense_weights(dense, keras.ops.convert_to_numpy(dense.kernel)[:, index],
                                  keras.ops.convert_to_numpy(dense.bias)[index])
        output = self.output_projection
        replace_dense_weights(output, keras.ops.convert_to_numpy(output.kernel)[index, :],
                              keras.ops.convert_to_numpy(output.bias))
        self.num_heads = len(kept)
        self.pruned_heads |= heads
        return sorted(heads)
