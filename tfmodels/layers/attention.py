"""Multi-head attention: the functions, and the blocks every architecture configures (`SelfAttention`,
`FusedSelfAttention`, `CrossAttention`, on the shared `MultiHeadAttention`)."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import NamedTuple

import keras
import numpy as np
import tensorflow as tf

from tfmodels.errors import ConfigError
from tfmodels.layers.core import make_linear, shape_dim
from tfmodels.layers.embeddings import replace_dense_weights
from tfmodels.layers.paths import build_at, leaf


def split_heads(x: tf.Tensor, num_heads: int, head_dim: int) -> tf.Tensor:
    """`[batch, seq, heads * dim]` -> `[batch, heads, seq, dim]`.

    Example:
        >>> split_heads(tf.zeros([2, 5, 64]), 4, 16).shape
        TensorShape([2, 4, 5, 16])
    """
    return tf.transpose(tf.reshape(x, (shape_dim(x, 0), shape_dim(x, 1), num_heads, head_dim)), (0, 2, 1, 3))


def merge_heads(x: tf.Tensor) -> tf.Tensor:
    """`[batch, heads, seq, dim]` -> `[batch, seq, heads * dim]` (the inverse of `split_heads`).

    Example:
        >>> merge_heads(tf.zeros([2, 4, 5, 16])).shape
        TensorShape([2, 5, 64])
    """
    def merge(part):
        merged = (shape_dim(part, 0), shape_dim(part, 2), part.shape[1] * part.shape[3])
        return tf.reshape(tf.transpose(part, (0, 2, 1, 3)), merged)

    if x.shape[2] == 1 and x.shape[1] > 1:
        # One query (a decoding step): the transpose and reshape are free, so XLA fuses them into the output
        # projection's matrix-vector product, which then computes a (head, dim) index per element and runs at a
        # third of its speed. A concatenation makes the merged row a real buffer (GPT-2 124M bf16, one row: 66-71
        # -> 83-90 new tokens/s).
        half = x.shape[1] // 2
        return tf.concat([merge(x[:, :half]), merge(x[:, half:])], axis=-1)
    return merge(x)


def causal_bias(past_length, query_length, key_length, dtype: tf.DType) -> tf.Tensor:
    """Additive `[1, 1, q, k]` bias that hides, from the query at position `past_length + i`, every later key.

    Example:
        >>> causal_bias(0, 3, 3, tf.float32)[0, 0]  # rows: 0 -1e4 -1e4 / 0 0 -1e4 / 0 0 0
    """
    rows = tf.range(query_length)[:, None] + past_length
    allowed = tf.cast(tf.range(key_length)[None, :] <= rows, dtype)
    return ((1.0 - allowed) * tf.cast(-10000.0, dtype))[None, None]


def write_to_cache(cache: tf.Tensor, new: tf.Tensor, cache_position: tf.Tensor) -> tf.Tensor:
    """Write `new` (`[..., q, dim]`) into the preallocated `cache` (`[..., max_length, dim]`) at positions
    `cache_position .. cache_position + q - 1` of its second-to-last axis; static shapes, so one XLA compilation
    serves every step, and under XLA the write is in place (a dynamic-update-slice of the `q` new positions).
    The positions must fit (`cache_position + q <= max_length`, as generation guarantees): like XLA's
    dynamic-update-slice, a start past `max_length - q` is moved back to it.

    Example:
        >>> write_to_cache(tf.zeros([2, 1, 1, 4, 1]), tf.ones([2, 1, 1, 1, 1]), tf.constant(2))[0, 0, 0, :, 0]
        <tf.Tensor: shape=(4,), dtype=float32, numpy=array([0., 0., 1., 0.], dtype=float32)>
    """
    dtype, rank = new.dtype, len(new.shape)
    cache = tf.cast(cache, dtype)
    start = [0] * (rank - 2) + [tf.cast(cache_position, tf.int32), 0]
    return keras.ops.slice_update(cache, start, new)


def apply_rotary(x: tf.Tensor, cos: tf.Tensor, sin: tf.Tensor) -> tf.Tensor:
    """Rotary position embedding of `x` (`[batch, heads, seq, dim]`) with `cos`/`sin` (`[batch, seq, rotated]`), in
    the reference's rotate-half convention: `x * cos + rotate_half(x) * sin` on the first `rotated` dimensions of
    each head (all of them, unless the model rotates part of each head: Phi-3's `partial_rotary_factor`); the rest
    pass unchanged.

    Example:
        >>> apply_rotary(tf.ones([1, 2, 3, 4]), tf.ones([1, 3, 4]), tf.zeros([1, 3, 4])).shape
        TensorShape([1, 2, 3, 4])
    """
    cos, sin = tf.cast(cos, x.dtype)[:, None], tf.cast(sin, x.dtype)[:, None]
    rotated = cos.shape[-1]
    if rotated is not None and rotated < x.shape[-1]:
        return tf.concat([apply_rotary(x[..., :rotated], cos[:, 0], sin[:, 0]), x[..., rotated:]], axis=-1)
    first, second = tf.split(x, 2, axis=-1)
    return x * cos + tf.concat([-second, first], axis=-1) * sin


def scaled_dot_product_attention(
    query: tf.Tensor,
    key: tf.Tensor,
    value: tf.Tensor,
    bias: tf.Tensor | None = None,
    dropout=None,
    head_mask: tf.Tensor | None = None,
    scale: bool | float = True,
    training: bool = False,
    softcap: float | None = None,
) -> tuple[tf.Tensor, tf.Tensor]:
    """Attention over `[batch, heads, seq, dim]` tensors. Returns `(context, probabilities)`.

    `key`/`value` may have fewer heads than `query` (grouped-query attention: query head `i` reads key/value head
    `i // (heads / kv_heads)`); the queries of a group are then stacked along the sequence axis so that no key or
    value tensor is repeated per query head. `scale`: True divides the scores by `sqrt(dim)`, False leaves them
    (T5), a number multiplies them; `softcap` then caps them to `softcap * tanh(scores / softcap)` (Gemma 2).
    `bias` is added to the scores (padding, causal and position biases); `dropout` is a Keras Dropout applied to
    the probabilities; `head_mask` multiplies them.
    """
    heads, kv_heads, dim = query.shape[1], key.shape[1], query.shape[-1]
    grouped = heads != kv_heads
    if grouped:
        batch, q_len, k_len = shape_dim(query, 0), shape_dim(query, 2), shape_dim(key, 2)
        query = tf.reshape(query, [batch, kv_heads, -1, dim])  # [b, kv, groups * q, d]
    scores = tf.matmul(query, key, transpose_b=True)
    if grouped:
        scores = tf.reshape(scores, [batch, heads, q_len, k_len])
    if scale is True:
        scores = scores / math.sqrt(dim)
    elif scale is not False:
        scores = scores * scale
    if softcap is not None:
        scores = tf.tanh(scores / softcap) * softcap
    if bias is not None:
        scores = scores + tf.cast(bias, scores.dtype)
    probs = tf.nn.softmax(scores, axis=-1)
    if dropout is not None:
        probs = dropout(probs, training=training)
    if head_mask is not None:
        probs = probs * tf.cast(head_mask, probs.dtype)
    if grouped:
        context = tf.matmul(tf.reshape(probs, [batch, kv_heads, -1, k_len]), value)
        return tf.reshape(context, [batch, heads, q_len, value.shape[-1]]), probs
    return tf.matmul(probs, value), probs


@dataclasses.dataclass(frozen=True)
class AttentionNames:
    """Paths of an attention block's projections, relative to the block: separate `query`/`key`/`value`, or one
    fused `qkv` projection (GPT-2's `c_attn`); `output` is the projection after the heads are merged. `order` is
    the order of the separate projections' variables in the reference's files (BART's starts with the key)."""

    query: str | None = "query"
    key: str | None = "key"
    value: str | None = "value"
    output: str = "dense"
    qkv: str | None = None
    order: tuple[str, ...] = ("query", "key", "value")


class AttentionContext(NamedTuple):
    """How the tokens of one pass attend to each other, the same for every layer: the additive `bias` on the
    scores (padding, causal, sliding window, relative positions; `[batch or 1, heads or 1, q, k]`) and the rotary
    angles `rotary` (`(cos, sin)`, `[batch, seq, head_dim]` each; None without rotary positions)."""

    bias: tf.Tensor | None = None
    rotary: tuple[tf.Tensor, tf.Tensor] | None = None


@dataclasses.dataclass(frozen=True)
class KVCache:
    """A self-attention cache for one call. For one layer: `past` (`[2, batch, kv_heads, length, head_dim]`, or
    None), written at slot `position` when given (a preallocated cache), else appended to; `keep` returns the
    updated cache (`use_cache`). For a stack, `past` holds one such tensor per layer application (or is None).
    (A dataclass, not a tuple: Keras refuses call arguments that nest tensors with a Python bool.)"""

    past: tf.Tensor | tuple | None = None
    position: tf.Tensor | None = None
    keep: bool = False


class CrossInputs(NamedTuple):
    """What cross-attention reads: the encoder's `states`, or their keys and values projected once
    (`key_value`, from `CrossAttention.project_key_value`), the encoder padding `bias` and a `head_mask`. For a
    stack, `key_value` holds one tensor per layer and `head_mask` one mask per step (each may be None)."""

    states: tf.Tensor | None = None
    bias: tf.Tensor | None = None
    key_value: tf.Tensor | tuple | None = None
    head_mask: tf.Tensor | list | None = None


def cross_inputs(states, bias=None, key_values=None, head_masks=None) -> CrossInputs | None:
    """A stack's `CrossInputs`, or None when there is nothing to attend to (neither encoder states nor their
    projected keys and values).

    Example:
        >>> cross_inputs(None) is None
        True
    """
    if states is None and key_values is None:
        return None
    return CrossInputs(states, bias, key_values, head_masks)


class MultiHeadAttention(keras.layers.Layer):
    """What every attention block shares: the projections at the paths `names` gives, the scaled dot-product
    attention over the heads (grouped-query with `num_kv_heads`) and the output projection, and head pruning.
    `SelfAttention`, `FusedSelfAttention` (GPT-2's one `c_attn`) and `CrossAttention` are the blocks.

    `head_dim` defaults to `hidden_size // num_heads` (T5 sets it apart: the heads then span `num_heads *
    head_dim`); `scale` is True (`1/sqrt(head_dim)`), False (T5) or a multiplier; `query_scale` multiplies the
    queries besides (GPT-2's `scale_attn_by_inverse_layer_idx`); `qkv_bias`/`output_bias` give the projections
    biases.

    Example:
        >>> attention = SelfAttention(768, 12, AttentionNames("self/query", "self/key", "self/value",
        ...                           "output/dense"), name="attention")
        >>> gqa = SelfAttention(2048, 32, AttentionNames("q_proj", "k_proj", "v_proj", "o_proj"), num_kv_heads=8,
        ...                     qkv_bias=False, output_bias=False, name="self_attn")
    """

    def __init__(self, hidden_size: int, num_heads: int, names: AttentionNames, dropout: float = 0.0,
                 initializer_range: float = 0.02, linear: str = "dense", scale: bool | float = True, *,
                 head_dim: int | None = None, num_kv_heads: int | None = None, qkv_bias: bool = True,
                 output_bias: bool = True, query_scale: float | None = None, **kwargs):
        super().__init__(**kwargs)
        if head_dim is None:
            if hidden_size % num_heads:
                raise ConfigError(f"hidden_size ({hidden_size}) must be a multiple of num_attention_heads "
                                  f"({num_heads}).")
            head_dim = hidden_size // num_heads
        num_kv_heads = num_heads if num_kv_heads is None else num_kv_heads
        if num_kv_heads < 1 or num_heads % num_kv_heads:
            raise ConfigError(f"num_attention_heads ({num_heads}) must be a multiple of num_key_value_heads "
                              f"({num_kv_heads}).")
        self.hidden_size = hidden_size
        self.original_num_heads = num_heads
        self.num_heads = num_heads
        self.num_kv_heads = num_kv_heads
        self.head_dim = head_dim
        self.names = names
        self.scale = scale
        self.query_scale = query_scale
        self.pruned_heads: set[int] = set()
        self.linear, self.initializer_range = linear, initializer_range
        self.make_projections(qkv_bias)
        self.output_projection = self.linear_at(names.output, hidden_size, num_heads * head_dim, output_bias)
        self.dropout = keras.layers.Dropout(dropout, name="dropout")

    def linear_at(self, path: str, units: int, input_dim: int, use_bias: bool) -> keras.layers.Layer:
        """A projection named by the last part of `path` (its variables' place in checkpoints)."""
        return make_linear(self.linear, units, input_dim, leaf(path), self.initializer_range, use_bias)

    # Projections that never have a bias, whatever `qkv_bias` says (Whisper's key).
    projections_without_bias: tuple[str, ...] = ()

    def make_projections(self, use_bias: bool) -> None:
        """The query, key and value projections, in the order of the reference's variables (`names.order`)."""
        inner, kv_inner = self.num_heads * self.head_dim, self.num_kv_heads * self.head_dim
        sizes = {"query": inner, "key": kv_inner, "value": kv_inner}
        for projection in self.names.order:  # attribute order is variable order
            bias = use_bias and projection not in self.projections_without_bias
            setattr(self, projection, self.linear_at(getattr(self.names, projection), sizes[projection],
                                                     self.hidden_size, bias))

    def build(self, input_shape=None):
        for projection in self.names.order:
            build_at(getattr(self, projection), getattr(self.names, projection), (None, None, self.hidden_size))
        build_at(self.output_projection, self.names.output, (None, None, self.num_heads * self.head_dim))

    def _heads(self, x: tf.Tensor, heads: int | None = None) -> tf.Tensor:
        return split_heads(x, heads or self.num_heads, self.head_dim)

    def attend(self, query, key, value, bias, head_mask, training) -> tuple[tf.Tensor, tf.Tensor]:
        """`(output, probabilities)`: the attention of `query` over `key`/`value` (`[batch, heads, seq, dim]`),
        merged and projected."""
        if self.query_scale is not None:
            query = query * tf.cast(self.query_scale, query.dtype)
        context, probs = scaled_dot_product_attention(query, key, value, bias=bias, dropout=self.dropout,
                                                      head_mask=head_mask, scale=self.scale, training=training)
        return self.output_projection(merge_heads(context)), probs

    def prune(self, heads) -> list[int]:
        """Remove `heads` (indices of the unpruned block) from the projections; returns the heads removed."""
        if self.num_kv_heads != self.num_heads:
            raise NotImplementedError("Head pruning is not supported with grouped-query attention (num_kv_heads).")
        heads = {int(h) for h in heads} - self.pruned_heads
        if not heads:
            return []
        current = [h for h in range(self.original_num_heads) if h not in self.pruned_heads]
        kept = [h for h in current if h not in heads]
        size = self.head_dim
        index = (np.concatenate([np.arange(current.index(h) * size, (current.index(h) + 1) * size) for h in kept])
                 if kept else np.zeros((0,), np.int64))

        def values(variable, take):
            return None if variable is None else take(keras.ops.convert_to_numpy(variable))

        for dense in (self.query, self.key, self.value):
            replace_dense_weights(dense, values(dense.kernel, lambda k: k[:, index]),
                                  values(dense.bias, lambda b: b[index]))
        output = self.output_projection
        replace_dense_weights(output, values(output.kernel, lambda k: k[index, :]),
                              values(output.bias, lambda b: b))
        self.num_heads = self.num_kv_heads = len(kept)
        self.pruned_heads |= heads
        return sorted(heads)


class SelfAttention(MultiHeadAttention):
    """Attention of a sequence over itself (and over its cached keys and values): rotary positions when the
    context has them, and the key/value cache.

    Example:
        >>> output, present, probs = attention(x, AttentionContext(bias), cache=KVCache(past, keep=True))
    """

    def project(self, hidden_states: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """Queries, keys and values `[batch, heads, seq, dim]` (keys and values with the key/value heads)."""
        return (self._heads(self.query(hidden_states)), self._heads(self.key(hidden_states), self.num_kv_heads),
                self._heads(self.value(hidden_states), self.num_kv_heads))

    def call(self, hidden_states, context: AttentionContext = AttentionContext(), head_mask=None,
             cache: KVCache | None = None, training=False):
        """Returns `(output, present, probabilities)`: `present` is the updated cache when `cache.keep`, else
        None."""
        query, key, value = self.project(hidden_states)
        if context.rotary is not None:
            query, key = apply_rotary(query, *context.rotary), apply_rotary(key, *context.rotary)
        present = None
        if cache is not None:
            written = None
            if cache.past is not None and cache.position is not None:  # one in-place write of keys and values
                written = write_to_cache(cache.past, tf.stack([key, value], axis=0), cache.position)
                key, value = written[0], written[1]
            elif cache.past is not None:
                past_key, past_value = tf.unstack(cache.past, num=2, axis=0)
                key = tf.concat([tf.cast(past_key, key.dtype), key], axis=-2)
                value = tf.concat([tf.cast(past_value, value.dtype), value], axis=-2)
            if cache.keep:
                present = written if written is not None else tf.stack([key, value], axis=0)
        output, probs = self.attend(query, key, value, context.bias, head_mask, training)
        return output, present, probs


class QKNormSelfAttention(SelfAttention):
    """Self-attention whose queries and keys are normalised over each head before the rotary positions (Qwen3's
    and Gemma 3's `q_norm` / `k_norm`); `make_norm(name)` makes each norm (the family's RMSNorm).

    Example:
        >>> attention = QKNormSelfAttention(1024, 16, names, head_dim=128, num_kv_heads=8, qkv_bias=False,
        ...                                 output_bias=False, make_norm=lambda name: RMSNorm(1e-6, name=name),
        ...                                 name="self_attn")
    """

    def __init__(self, *args, make_norm: Callable[[str], keras.layers.Layer], **kwargs):
        super().__init__(*args, **kwargs)
        self.q_norm, self.k_norm = make_norm("q_norm"), make_norm("k_norm")

    def build(self, input_shape=None):
        super().build(input_shape)
        for norm in (self.q_norm, self.k_norm):
            build_at(norm, norm.name, (None, None, None, self.head_dim))

    def project(self, hidden_states):
        query, key, value = super().project(hidden_states)
        return self.q_norm(query), self.k_norm(key), value


class SoftCappedSelfAttention(SelfAttention):
    """Self-attention whose scores are capped to `softcap * tanh(scores / softcap)` before the mask (Gemma 2's
    `attn_logit_softcapping`).

    Example:
        >>> attention = SoftCappedSelfAttention(2304, 8, names, scale=256 ** -0.5, head_dim=256, num_kv_heads=4,
        ...                                     qkv_bias=False, output_bias=False, softcap=50.0, name="self_attn")
    """

    def __init__(self, *args, softcap: float, **kwargs):
        super().__init__(*args, **kwargs)
        self.softcap = float(softcap)

    def attend(self, query, key, value, bias, head_mask, training):
        context, probs = scaled_dot_product_attention(query, key, value, bias=bias, dropout=self.dropout,
                                                      head_mask=head_mask, scale=self.scale, training=training,
                                                      softcap=self.softcap)
        return self.output_projection(merge_heads(context)), probs


class FusedSelfAttention(SelfAttention):
    """Self-attention with one fused query/key/value projection (`names.qkv`: GPT-2's `c_attn`, Phi-3's
    `qkv_proj`), whose outputs are the queries, then the keys and the values (of the key/value heads); its heads
    cannot be pruned."""

    def make_projections(self, use_bias: bool) -> None:
        size = (self.num_heads + 2 * self.num_kv_heads) * self.head_dim
        self.qkv = self.linear_at(self.names.qkv, size, self.hidden_size, use_bias)

    def build(self, input_shape=None):
        build_at(self.qkv, self.names.qkv, (None, None, self.hidden_size))
        build_at(self.output_projection, self.names.output, (None, None, self.num_heads * self.head_dim))

    def project(self, hidden_states):
        kv_size = self.num_kv_heads * self.head_dim
        query, key, value = tf.split(self.qkv(hidden_states), [self.num_heads * self.head_dim, kv_size, kv_size],
                                     axis=-1)
        return self._heads(query), self._heads(key, self.num_kv_heads), self._heads(value, self.num_kv_heads)

    def prune(self, heads) -> list[int]:
        raise NotImplementedError("Head pruning is not supported with a fused query/key/value projection.")


class CrossAttention(MultiHeadAttention):
    """Attention of the decoder's sequence over the encoder's output (`CrossInputs`).

    Example:
        >>> output, probs = layer.crossattention(x, CrossInputs(states=encoder_states, bias=encoder_bias))
    """

    def project_key_value(self, states: tf.Tensor) -> tf.Tensor:
        """The keys and values of `states` (the encoder output): `[2, batch, kv_heads, len, dim]`, to pass as
        `CrossInputs.key_value` at every decoding step instead of projecting the encoder output again.

        Example:
            >>> cross = layer.crossattention.project_key_value(encoder_hidden_states)
        """
        return tf.stack([self._heads(self.key(states), self.num_kv_heads),
                         self._heads(self.value(states), self.num_kv_heads)], axis=0)

    def call(self, hidden_states, cross: CrossInputs, training=False):
        """Returns `(output, probabilities)`."""
        query = self._heads(self.query(hidden_states))
        if cross.key_value is not None:
            key, value = tf.unstack(cross.key_value, num=2, axis=0)
        else:
            key, value = tf.unstack(self.project_key_value(cross.states), num=2, axis=0)
        return self.attend(query, key, value, cross.bias, cross.head_mask, training)
