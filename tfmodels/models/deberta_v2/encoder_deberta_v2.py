"""DeBERTa-v2's encoder: disentangled self-attention (content-to-content, content-to-position, position-to-content
scores over bucketed relative distances), its post-norm layer, and the backbone (`deberta`): embeddings masked by the
attention mask, then the layers, which share the encoder's normalised relative embeddings.

As the reference (PyTorch), a padded query position attends to every key alike (its scores are all masked to the
dtype's minimum), so padded positions get outputs too; the real positions do not depend on them.
"""

from __future__ import annotations

from typing import NamedTuple

import keras
import tensorflow as tf

from tfmodels.errors import ConfigError
from tfmodels.layers.core import get_activation, get_initializer, head_mask_5d, shape_dim
from tfmodels.layers.embeddings import EmbeddingNames, TextEmbeddings, TokenEmbedding
from tfmodels.layers.encoder import check_ids_or_embeds
from tfmodels.layers.paths import build_at, leaf
from tfmodels.layers.transformer import Collect, TransformerStack
from tfmodels.modeling_outputs import TFBaseModelOutput


class DisentangledContext(NamedTuple):
    """What every layer of one pass attends with: `allowed` (`[batch, 1, q, k]` booleans: both positions real),
    the bucketed relative distances `relative_positions` (`[q, k]`, None without relative attention) and the
    normalised relative embeddings `relative_embeddings` (`[2 * span, hidden]`)."""

    allowed: tf.Tensor
    relative_positions: tf.Tensor | None = None
    relative_embeddings: tf.Tensor | None = None


def log_bucket_positions(relative: tf.Tensor, bucket_size: int, max_position: int) -> tf.Tensor:
    """Relative distances kept as they are below `bucket_size / 2` and bucketed logarithmically beyond, up to
    `max_position` (the reference's `make_log_bucket_position`, in float32 as it computes them)."""
    relative = tf.cast(relative, tf.float32)
    mid = bucket_size // 2
    sign = tf.sign(relative)
    near = (relative < mid) & (relative > -mid)
    absolute = tf.where(near, tf.cast(mid - 1, tf.float32), tf.abs(relative))
    log_scale = tf.math.log(tf.constant((max_position - 1) / mid, tf.float32))
    log_positions = tf.math.ceil(tf.math.log(absolute / mid) / log_scale * (mid - 1)) + mid
    return tf.cast(tf.where(absolute <= mid, relative, log_positions * sign), tf.int32)


def relative_positions(query_size, key_size, bucket_size: int, max_position: int) -> tf.Tensor:
    """`[q, k]` distances `q_i - k_j`, log-bucketed when `bucket_size` and `max_position` are positive."""
    relative = tf.range(query_size)[:, None] - tf.range(key_size)[None, :]
    if bucket_size > 0 and max_position > 0:
        return log_bucket_positions(relative, bucket_size, max_position)
    return relative


def _pick(scores: tf.Tensor, index: tf.Tensor) -> tf.Tensor:
    """`scores[b, h, i, index[i, j]]` for `scores` `[b, h, i, n]` and `index` `[i, j]`: `[b, h, i, j]`."""
    by_row = tf.transpose(scores, [2, 3, 0, 1])  # [i, n, b, h]
    picked = tf.gather(by_row, index, axis=1, batch_dims=1)  # [i, j, b, h]
    return tf.transpose(picked, [2, 3, 0, 1])


class DisentangledSelfAttention(keras.layers.Layer):
    """DeBERTa's self-attention. Scores are content-to-content plus, with relative attention, content-to-position
    (`c2p`: each query against the key's relative position) and position-to-content (`p2c`), all scaled by
    `sqrt(head_dim * kinds)`. The relative embeddings are projected by `query_proj`/`key_proj` (`share_att_key`) or
    by `pos_query_proj`/`pos_key_proj`.

    Example:
        >>> attention(hidden_states, context)  # (context states [batch, seq, hidden], probabilities)
    """

    def __init__(self, config, **kwargs):
        super().__init__(**kwargs)
        self.hidden, self.heads = config.hidden_size, config.num_attention_heads
        self.head_dim = config.hidden_size // config.num_attention_heads
        self.relative = bool(config.relative_attention)
        self.kinds = [kind for kind in (config.pos_att_type or []) if kind in ("c2p", "p2c")] if self.relative else []
        self.share_att_key = bool(getattr(config, "share_att_key", False))
        init = get_initializer(config.initializer_range)

        def dense(name):
            return keras.layers.Dense(self.hidden, kernel_initializer=init, name=name)

        self.query_proj, self.key_proj, self.value_proj = dense("query_proj"), dense("key_proj"), dense("value_proj")
        self.pos_key_proj = dense("pos_key_proj") if "c2p" in self.kinds and not self.share_att_key else None
        self.pos_query_proj = dense("pos_query_proj") if "p2c" in self.kinds and not self.share_att_key else None
        self.dropout = keras.layers.Dropout(config.attention_probs_dropout_prob)
        self.pos_dropout = keras.layers.Dropout(config.hidden_dropout_prob)

    def build(self, input_shape=None):
        for layer in (self.query_proj, self.key_proj, self.value_proj, self.pos_key_proj, self.pos_query_proj):
            if layer is not None:
                build_at(layer, layer.name, (None, None, self.hidden))

    def heads_of(self, states: tf.Tensor) -> tf.Tensor:
        """`[batch, seq, hidden]` -> `[batch, heads, seq, head_dim]`."""
        shaped = tf.reshape(states, [shape_dim(states, 0), shape_dim(states, 1), self.heads, self.head_dim])
        return tf.transpose(shaped, [0, 2, 1, 3])

    def relative_scores(self, query, key, context: DisentangledContext, scale, training) -> tf.Tensor:
        """The `c2p` and `p2c` scores `[batch, heads, q, k]`."""
        embeddings = self.pos_dropout(context.relative_embeddings, training=training)[None]  # [1, 2 span, hidden]
        span = shape_dim(embeddings, 1) // 2
        positions = context.relative_positions
        score = 0.0
        if "c2p" in self.kinds:
            position_keys = self.heads_of((self.key_proj if self.share_att_key else self.pos_key_proj)(embeddings))
            scores = tf.matmul(query, position_keys, transpose_b=True)  # [b, h, q, 2 span]
            score += _pick(scores, tf.clip_by_value(positions + span, 0, 2 * span - 1)) / scale
        if "p2c" in self.kinds:
            project = self.query_proj if self.share_att_key else self.pos_query_proj
            position_queries = self.heads_of(project(embeddings))
            scores = tf.matmul(key, position_queries, transpose_b=True)  # [b, h, k, 2 span]
            picked = _pick(scores, tf.clip_by_value(-positions + span, 0, 2 * span - 1))  # [b, h, k, q]
            score += tf.transpose(picked, [0, 1, 3, 2]) / scale
        return score

    def call(self, hidden_states, context: DisentangledContext, head_mask=None, training=False):
        query = self.heads_of(self.query_proj(hidden_states))
        key = self.heads_of(self.key_proj(hidden_states))
        value = self.heads_of(self.value_proj(hidden_states))
        scale = tf.sqrt(tf.cast(self.head_dim * (1 + len(self.kinds)), query.dtype))
        scores = tf.matmul(query, key / scale, transpose_b=True)
        if self.kinds:
            scores += self.relative_scores(query, key, context, scale, training)
        scores = tf.where(context.allowed, scores, scores.dtype.min)  # a padded query: uniform, as the reference
        probs = self.dropout(tf.nn.softmax(scores, axis=-1), training=training)
        if head_mask is not None:
            probs = probs * tf.cast(head_mask, probs.dtype)
        states = tf.transpose(tf.matmul(probs, value), [0, 2, 1, 3])
        return tf.reshape(states, [shape_dim(states, 0), shape_dim(states, 1), self.hidden]), probs


class DebertaV2Layer(keras.layers.Layer):
    """A post-norm layer: `attention/self` (disentangled), `attention/output` (dense, dropout, residual, LayerNorm),
    `intermediate` and `output`, BERT's way. Its `call` follows the stack's layer protocol: `(hidden_states, None,
    probabilities, None)`.

    Example:
        >>> DebertaV2Layer(config, name="layer_._0")(hidden_states, context=context)[0]
    """

    def __init__(self, config, **kwargs):
        super().__init__(**kwargs)
        self.hidden, self.intermediate_size = config.hidden_size, config.intermediate_size
        init = get_initializer(config.initializer_range)
        eps = config.layer_norm_eps
        self.attention = DisentangledSelfAttention(config, name="self")
        self.attention_output = keras.layers.Dense(self.hidden, kernel_initializer=init, name="dense")
        self.attention_norm = keras.layers.LayerNormalization(epsilon=eps, name="LayerNorm")
        self.intermediate = keras.layers.Dense(self.intermediate_size, kernel_initializer=init, name="dense")
        self.output_dense = keras.layers.Dense(self.hidden, kernel_initializer=init, name="dense")
        self.output_norm = keras.layers.LayerNormalization(epsilon=eps, name="LayerNorm")
        self.activation = get_activation(config.hidden_act)
        self.dropout = keras.layers.Dropout(config.hidden_dropout_prob)

    def build(self, input_shape=None):
        hidden = (None, None, self.hidden)
        build_at(self.attention, "attention/self")
        build_at(self.attention_output, "attention/output/dense", hidden)
        build_at(self.attention_norm, "attention/output/LayerNorm", hidden)
        build_at(self.intermediate, "intermediate/dense", hidden)
        build_at(self.output_dense, "output/dense", (None, None, self.intermediate_size))
        build_at(self.output_norm, "output/LayerNorm", hidden)

    def call(self, hidden_states, context: DisentangledContext, head_mask=None, cache=None, cross=None,
             training=False):
        attended, probs = self.attention(hidden_states, context, head_mask=head_mask, training=training)
        attended = self.attention_norm(self.dropout(self.attention_output(attended), training=training) + hidden_states)
        inner = self.activation(self.intermediate(attended))
        output = self.output_norm(self.dropout(self.output_dense(inner), training=training) + attended)
        return output, None, probs, None


class DebertaV2Encoder(TransformerStack):
    """The layers, and before them what they share: the relative embeddings (`rel_embeddings.weight`,
    `[2 * span, hidden]`, normalised by the encoder's `LayerNorm` with `norm_rel_ebd="layer_norm"`) and the
    bucketed relative distances of the pass."""

    def __init__(self, config, layer_path: str, **kwargs):
        paths = [layer_path.format(i=i) for i in range(config.num_hidden_layers)]
        super().__init__([DebertaV2Layer(config, name=leaf(path)) for path in paths], paths, **kwargs)
        self.hidden, self.relative = config.hidden_size, bool(config.relative_attention)
        self.initializer_range = config.initializer_range
        self.position_buckets = int(getattr(config, "position_buckets", -1))
        self.max_relative_positions = (config.max_relative_positions if config.max_relative_positions >= 1
                                       else config.max_position_embeddings)
        self.span = self.position_buckets if self.position_buckets > 0 else self.max_relative_positions
        norm_kinds = [kind.strip() for kind in str(getattr(config, "norm_rel_ebd", "none")).lower().split("|")]
        self.LayerNorm = None
        if self.relative and "layer_norm" in norm_kinds:
            self.LayerNorm = keras.layers.LayerNormalization(epsilon=config.layer_norm_eps, name="LayerNorm")

    def build(self, input_shape=None):
        if self.relative:
            self.rel_embeddings = self.add_weight(name="rel_embeddings.weight", shape=(2 * self.span, self.hidden),
                                                  initializer=get_initializer(self.initializer_range))
        super().build(input_shape)
        if self.LayerNorm is not None:
            build_at(self.LayerNorm, "LayerNorm", (None, self.hidden))

    def context(self, hidden_states: tf.Tensor, attention_mask: tf.Tensor) -> DisentangledContext:
        """The pass's mask (a pair is allowed when both positions are real) and relative inputs."""
        mask = tf.cast(attention_mask, tf.bool)
        allowed = mask[:, None, None, :] & mask[:, None, :, None]
        if not self.relative:
            return DisentangledContext(allowed)
        length = shape_dim(hidden_states, 1)
        positions = relative_positions(length, length, self.position_buckets, self.max_relative_positions)
        embeddings = tf.cast(self.rel_embeddings, hidden_states.dtype)
        if self.LayerNorm is not None:
            embeddings = self.LayerNorm(embeddings)
        return DisentangledContext(allowed, positions, embeddings)


class DebertaV2Backbone(keras.layers.Layer):
    """`deberta`: the embeddings (word, optional absolute positions and token types, LayerNorm, zeroed at padding)
    and the encoder.

    Example:
        >>> backbone(input_ids=ids, attention_mask=mask)["last_hidden_state"]
    """

    def __init__(self, config, blocks: dict, **kwargs):
        super().__init__(**kwargs)
        embedding_size = getattr(config, "embedding_size", config.hidden_size)
        if embedding_size != config.hidden_size:
            raise ConfigError(f"DeBERTa-v2 with embedding_size ({embedding_size}) != hidden_size "
                              f"({config.hidden_size}) is not supported (no released checkpoint uses it).")
        if getattr(config, "conv_kernel_size", 0):
            raise ConfigError("DeBERTa-v2's convolution layer (conv_kernel_size > 0, deberta-v2-xlarge's older "
                              "variants) is not supported.")
        self.blocks, self.hidden = blocks, config.hidden_size
        names = EmbeddingNames(position="position_embeddings" if config.position_biased_input else None,
                               token_type="token_type_embeddings" if config.type_vocab_size > 0 else None)
        self.embeddings = TextEmbeddings(config.vocab_size, config.hidden_size, config.max_position_embeddings,
                                         config.type_vocab_size, names, config.layer_norm_eps,
                                         config.hidden_dropout_prob, config.initializer_range,
                                         name=blocks["embeddings"])
        self.encoder = DebertaV2Encoder(config, blocks["layer"], name=blocks["encoder"])

    def build(self, input_shape=None):
        build_at(self.embeddings, self.blocks["embeddings"])
        build_at(self.encoder, self.blocks["encoder"])

    def get_input_embeddings(self) -> TokenEmbedding:
        return self.embeddings.word_embeddings

    @property
    def max_sequence_length(self) -> int | None:
        return self.embeddings.max_sequence_length

    def call(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None, inputs_embeds=None,
             head_mask=None, output_attentions=False, output_hidden_states=False, training=False):
        check_ids_or_embeds(input_ids, inputs_embeds)
        embeddings = self.embeddings(input_ids=input_ids, position_ids=position_ids, token_type_ids=token_type_ids,
                                     inputs_embeds=inputs_embeds, training=training)
        if attention_mask is None:
            attention_mask = tf.ones(tf.shape(embeddings)[:2], tf.int32)
        hidden_states = embeddings * tf.cast(attention_mask, embeddings.dtype)[..., None]
        stacked = self.encoder(hidden_states, context=self.encoder.context(hidden_states, attention_mask),
                               head_masks=head_mask_5d(head_mask, len(self.encoder.layer)),
                               collect=Collect(bool(output_attentions), bool(output_hidden_states)),
                               training=training)
        return TFBaseModelOutput(last_hidden_state=stacked["last_hidden_state"],
                                 hidden_states=stacked["hidden_states"], attentions=stacked["attentions"])
