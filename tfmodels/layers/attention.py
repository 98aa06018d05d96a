"""Multi-head scaled dot-product attention shared by BERT and GPT-2."""

from __future__ import annotations

import tensorflow as tf


def split_heads(x: tf.Tensor, num_heads: int, head_dim: int) -> tf.Tensor:
    """`[batch, seq, heads * dim]` -> `[batch, heads, seq, dim]`."""
    batch, seq = tf.shape(x)[0], tf.shape(x)[1]
    return tf.transpose(tf.reshape(x, (batch, seq, num_heads, head_dim)), (0, 2, 1, 3))


def merge_heads(x: tf.Tensor) -> tf.Tensor:
    """`[batch, heads, seq, dim]` -> `[batch, seq, heads * dim]`."""
    batch, heads, seq, dim = tf.shape(x)[0], x.shape[1], tf.shape(x)[2], x.shape[3]
    return tf.reshape(tf.transpose(x, (0, 2, 1, 3)), (batch, seq, heads * dim))


def causal_bias(query_length: tf.Tensor, key_length: tf.Tensor, dtype: tf.DType) -> tf.Tensor:
    """Additive `[1, 1, q, k]` bias that hides keys after each query (queries are the last `q` positions)."""
    rows = tf.range(query_length)[:, None] + (key_length - query_length)
    cols = tf.range(key_length)[None, :]
    allowed = tf.cast(cols <= rows, dtype)
    return ((1.0 - allowed) * tf.cast(-10000.0, dtype))[None, None]


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
