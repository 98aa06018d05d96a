"""BERT's layers. Layer and variable names are the checkpoint format: they equal the reference's."""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from tfmodels.errors import ConfigError
from tfmodels.layers.attention import merge_heads, scaled_dot_product_attention, split_heads
from tfmodels.layers.core import DenseResidualNorm, get_activation, get_initializer, head_mask_5d, padding_bias
from tfmodels.layers.embeddings import TokenEmbedding, replace_dense_weights, replace_variable
from tfmodels.modeling_outputs import TFBaseModelOutputWithPoolingAndCrossAttentions


class TFBertEmbeddings(keras.layers.Layer):
    """Word, position and token-type embeddings, summed, normalised and dropped out."""

    def __init__(self, config, **kwargs):
        super().__init__(**kwargs)
        self.config = config
        init = config.initializer_range
        self.word_embeddings = TokenEmbedding(
            config.vocab_size, config.hidden_size, init, variable_name="weight", name="word_embeddings"
        )
        self.token_type_embeddings = TokenEmbedding(
            config.type_vocab_size, config.hidden_size, init, name="token_type_embeddings"
        )
        self.position_embeddings = TokenEmbedding(
            config.max_position_embeddings, config.hidden_size, init, name="position_embeddings"
        )
        self.LayerNorm = keras.layers.LayerNormalization(epsilon=config.layer_norm_eps, name="LayerNorm")
        self.dropout = keras.layers.Dropout(config.hidden_dropout_prob, name="dropout")

    def build(self, input_shape=None):
        self.word_embeddings.build(None)
        self.token_type_embeddings.build(None)
        self.position_embeddings.build(None)
        self.LayerNorm.build((None, None, self.config.hidden_size))

    def call(self, input_ids=None, position_ids=None, token_type_ids=None, inputs_embeds=None,
             past_key_values_length=0, training=False):
        if inputs_embeds is None:
            inputs_embeds = self.word_embeddings(input_ids)
        input_shape = tf.shape(inputs_embeds)[:-1]
        if token_type_ids is None:
            token_type_ids = tf.zeros(input_shape, dtype=tf.int32)
        if position_ids is None:
            position_ids = tf.range(past_key_values_length, input_shape[-1] + past_key_values_length)[None, :]
        embeddings = (
            inputs_embeds + self.position_embeddings(position_ids) + self.token_type_embeddings(token_type_ids)
        )
        return self.dropout(self.LayerNorm(embeddings), training=training)


class TFBertSelfAttention(keras.layers.Layer):
    """Query, key and value projections and multi-head attention; supports head pruning."""

    def __init__(self, config, **kwargs):
        super().__init__(**kwargs)
        if config.hidden_size % config.num_attention_heads:
            raise ConfigError(
                f"hidden_size ({config.hidden_size}) must be a multiple of num_attention_heads "
                f"({config.num_attention_heads})."
            )
        self.config = config
        self.num_attention_heads = config.num_attention_heads
        self.attention_head_size = config.hidden_size // config.num_attention_heads
        self.pruned_heads: set[int] = set()
        self.query = self._projection("query")
        self.key = self._projection("key")
        self.value = self._projection("value")
        self.dropout = keras.layers.Dropout(config.attention_probs_dropout_prob, name="dropout")

    def _projection(self, name: str) -> keras.layers.Dense:
        units = self.num_attention_heads * self.attention_head_size
        return keras.layers.Dense(units, kernel_initializer=get_initializer(self.config.initializer_range), name=name)

    def build(self, input_shape=None):
        for layer in (self.query, self.key, self.value):
            layer.build((None, None, self.config.hidden_size))

    def call(self, hidden_states, attention_bias, head_mask, output_attentions, training=False):
        def heads(x):
            return split_heads(x, self.num_attention_heads, self.attention_head_size)

        context, probs = scaled_dot_product_attention(
            heads(self.query(hidden_states)), heads(self.key(hidden_states)), heads(self.value(hidden_states)),
            bias=attention_bias, dropout=self.dropout, head_mask=head_mask, training=training,
        )
        return merge_heads(context), (probs if output_attentions else None)

    def prune(self, heads: list[int], output_dense: keras.layers.Dense) -> list[int]:
        """Remove `heads` (original indices) from q/k/v and the matching input rows of `output_dense`."""
        heads = set(heads) - self.pruned_heads
        if not heads:
            return []
        kept_heads = [h for h in range(self.config.num_attention_heads) if h not in self.pruned_heads | heads]
        current = [h for h in range(self.config.num_attention_heads) if h not in self.pruned_heads]
        size = self.attention_head_size
        index = np.concatenate([np.arange(current.index(h) * size, (current.index(h) + 1) * size) for h in kept_heads]
                               ) if kept_heads else np.zeros((0,), np.int64)
        for dense in (self.query, self.key, self.value):
            replace_dense_weights(dense, keras.ops.convert_to_numpy(dense.kernel)[:, index],
                                  keras.ops.convert_to_numpy(dense.bias)[index])
        replace_dense_weights(output_dense, keras.ops.convert_to_numpy(output_dense.kernel)[index, :],
                              keras.ops.convert_to_numpy(output_dense.bias))
        self.num_attention_heads = len(kept_heads)
        self.pruned_heads |= heads
        return sorted(heads)


class TFBertAttention(keras.layers.Layer):
    """Self-attention followed by its output projection, residual connection and LayerNorm."""

    def __init__(self, config, **kwargs):
        super().__init__(**kwargs)
        self.config = config
        self.self_attention = TFBertSelfAttention(config, name="self")
        self.dense_output = DenseResidualNorm(config.hidden_size, config.hidden_size, config, name="output")

    def build(self, input_shape=None):
        self.self_attention.build(None)
        self.dense_output.build(None)

    def call(self, hidden_states, attention_bias, head_mask, output_attentions, training=False):
        context, probs = self.self_attention(hidden_states, attention_bias=attention_bias, head_mask=head_mask,
                                             output_attentions=output_attentions, training=training)
        return self.dense_output(context, residual=hidden_states, training=training), probs

    def prune_heads(self, heads: list[int]) -> None:
        """Remove these heads (original indices) from this attention block."""
        self.self_attention.prune(heads, self.dense_output.dense)


class TFBertIntermediate(keras.layers.Layer):
    """The feed-forward expansion: dense to `intermediate_size` and the activation."""

    def __init__(self, config, **kwargs):
        super().__init__(**kwargs)
        self.config = config
        self.dense = keras.layers.Dense(
            config.intermediate_size, kernel_initializer=get_initializer(config.initializer_range), name="dense"
        )
        self.activation = get_activation(config.hidden_act)

    def build(self, input_shape=None):
        self.dense.build((None, None, self.config.hidden_size))

    def call(self, hidden_states):
        return self.activation(self.dense(hidden_states))


class TFBertLayer(keras.layers.Layer):
    """One transformer block: attention, intermediate, output."""

    def __init__(self, config, **kwargs):
        super().__init__(**kwargs)
        self.attention = TFBertAttention(config, name="attention")
        self.intermediate = TFBertIntermediate(config, name="intermediate")
        self.bert_output = DenseResidualNorm(config.hidden_size, config.intermediate_size, config, name="output")

    def build(self, input_shape=None):
        self.attention.build(None)
        self.intermediate.build(None)
        self.bert_output.build(None)

    def call(self, hidden_states, attention_bias, head_mask, output_attentions, training=False):
        attention_output, probs = self.attention(hidden_states, attention_bias=attention_bias, head_mask=head_mask,
                                                 output_attentions=output_attentions, training=training)
        output = self.bert_output(self.intermediate(attention_output), residual=attention_output, training=training)
        return output, probs


class TFBertEncoder(keras.layers.Layer):
    """The stack of `TFBertLayer`s, named `layer_._0`, `layer_._1`, ..."""

    def __init__(self, config, **kwargs):
        super().__init__(**kwargs)
        self.layer = [TFBertLayer(config, name=f"layer_._{i}") for i in range(config.num_hidden_layers)]

    def build(self, input_shape=None):
        for layer in self.layer:
            layer.build(None)

    def call(self, hidden_states, attention_bias, head_masks, output_attentions, output_hidden_states,
             training=False):
        all_hidden = (hidden_states,) if output_hidden_states else None
        all_attentions = () if output_attentions else None
        for layer, head_mask in zip(self.layer, head_masks):
            hidden_states, probs = layer(hidden_states, attention_bias=attention_bias, head_mask=head_mask,
                                         output_attentions=output_attentions, training=training)
            if output_hidden_states:
                all_hidden += (hidden_states,)
            if output_attentions:
                all_attentions += (probs,)
        return hidden_states, all_hidden, all_attentions


class TFBertPooler(keras.layers.Layer):
    """Dense + tanh on the first token."""

    def __init__(self, config, **kwargs):
        super().__init__(**kwargs)
        self.config = config
        self.dense = keras.layers.Dense(
            config.hidden_size, kernel_initializer=get_initializer(config.initializer_range), activation="tanh",
            name="dense",
        )

    def build(self, input_shape=None):
        self.dense.build((None, self.config.hidden_size))

    def call(self, hidden_states):
        return self.dense(hidden_states[:, 0])


class TFBertMainLayer(keras.layers.Layer):
    """The BERT encoder (`bert` in checkpoints): embeddings, encoder and an optional pooler."""

    def __init__(self, config, add_pooling_layer: bool = True, **kwargs):
        super().__init__(**kwargs)
        if config.position_embedding_type != "absolute":
            raise ConfigError(
                f"position_embedding_type={config.position_embedding_type!r} is not supported; only 'absolute' is."
            )
        if config.add_cross_attention or config.is_decoder:
            raise ConfigError("BERT as a decoder (is_decoder / add_cross_attention) is not supported.")
        self.config = config
        self.embeddings = TFBertEmbeddings(config, name="embeddings")
        self.encoder = TFBertEncoder(config, name="encoder")
        self.pooler = TFBertPooler(config, name="pooler") if add_pooling_layer else None

    def build(self, input_shape=None):
        self.embeddings.build(None)
        self.encoder.build(None)
        if self.pooler is not None:
            self.pooler.build(None)
        if self.config.pruned_heads:
            self.prune_heads(self.config.pruned_heads)

    def get_input_embeddings(self) -> TokenEmbedding:
        """The word embeddings."""
        return self.embeddings.word_embeddings

    def prune_heads(self, heads_to_prune: dict[int, list[int]]) -> None:
        """Prune `{layer: [heads]}` (original head indices) in the encoder layers."""
        for layer_index, heads in heads_to_prune.items():
            if not 0 <= int(layer_index) < len(self.encoder.layer):
                raise ValueError(f"Cannot prune heads of layer {layer_index}: the model has "
                                 f"{len(self.encoder.layer)} layers.")
            self.encoder.layer[int(layer_index)].attention.prune_heads(heads)

    def call(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None, head_mask=None,
             inputs_embeds=None, output_attentions=False, output_hidden_states=False, training=False):
        if input_ids is not None and inputs_embeds is not None:
            raise ValueError("Pass either input_ids or inputs_embeds, not both.")
        if input_ids is None and inputs_embeds is None:
            raise ValueError("Pass input_ids or inputs_embeds.")
        embedding_output = self.embeddings(input_ids=input_ids, position_ids=position_ids,
                                           token_type_ids=token_type_ids, inputs_embeds=inputs_embeds,
                                           training=training)
        if attention_mask is None:
            attention_mask = tf.ones(tf.shape(embedding_output)[:-1], dtype=tf.int32)
        attention_bias = padding_bias(attention_mask, embedding_output.dtype)
        head_masks = self._head_masks(head_mask)
        sequence_output, hidden_states, attentions = self.encoder(
            embedding_output, attention_bias=attention_bias, head_masks=head_masks,
            output_attentions=output_attentions, output_hidden_states=output_hidden_states, training=training,
        )
        pooled_output = self.pooler(sequence_output) if self.pooler is not None else None
        return TFBaseModelOutputWithPoolingAndCrossAttentions(
            last_hidden_state=sequence_output, pooler_output=pooled_output, hidden_states=hidden_states,
            attentions=attentions,
        )

    def _head_masks(self, head_mask):
        if head_mask is None:
            return [None] * self.config.num_hidden_layers
        if self.config.pruned_heads:
            raise ValueError("head_mask cannot be combined with pruned heads; prune or mask, not both.")
        return head_mask_5d(head_mask, self.config.num_hidden_layers)


class TFBertPredictionHeadTransform(keras.layers.Layer):
    """Dense, activation and LayerNorm before the vocabulary projection."""

    def __init__(self, config, **kwargs):
        super().__init__(**kwargs)
        self.config = config
        self.dense = keras.layers.Dense(
            config.hidden_size, kernel_initializer=get_initializer(config.initializer_range), name="dense"
        )
        self.activation = get_activation(config.hidden_act)
        self.LayerNorm = keras.layers.LayerNormalization(epsilon=config.layer_norm_eps, name="LayerNorm")

    def build(self, input_shape=None):
        self.dense.build((None, None, self.config.hidden_size))
        self.LayerNorm.build((None, None, self.config.hidden_size))

    def call(self, hidden_states):
        return self.LayerNorm(self.activation(self.dense(hidden_states)))


class TFBertLMPredictionHead(keras.layers.Layer):
    """Transform, then project onto the vocabulary with the (tied) word embeddings, plus a bias."""

    def __init__(self, config, input_embeddings: TFBertEmbeddings, **kwargs):
        super().__init__(**kwargs)
        self.config = config
        self.transform = TFBertPredictionHeadTransform(config, name="transform")
        self.input_embeddings = input_embeddings

    def build(self, input_shape=None):
        self.bias = self.add_weight(name="bias", shape=(self.config.vocab_size,), initializer="zeros")
        self.transform.build(None)

    def call(self, hidden_states):
        logits = self.input_embeddings.word_embeddings.attend(self.transform(hidden_states))
        return logits + tf.cast(self.bias, logits.dtype)

    def get_output_embeddings(self) -> TokenEmbedding:
        return self.input_embeddings.word_embeddings

    def get_bias(self) -> dict:
        return {"bias": self.bias}

    def set_bias(self, value: dict) -> None:
        bias = np.asarray(keras.ops.convert_to_numpy(value["bias"]), dtype=np.float32)
        if bias.shape != tuple(self.bias.shape):
            replace_variable(self, "bias", bias)
        else:
            self.bias.assign(bias)

    def resize_bias(self, new_num_tokens: int) -> None:
        old = keras.ops.convert_to_numpy(self.bias.value)
        new = np.zeros((new_num_tokens,), dtype=old.dtype)
        new[: min(len(old), new_num_tokens)] = old[:new_num_tokens]
        self.set_bias({"bias": new})


class TFBertMLMHead(keras.layers.Layer):
    """`mlm___cls` in checkpoints (`cls` in PyTorch): holds the LM prediction head."""

    def __init__(self, config, input_embeddings, **kwargs):
        super().__init__(**kwargs)
        self.predictions = TFBertLMPredictionHead(config, input_embeddings, name="predictions")

    def build(self, input_shape=None):
        self.predictions.build(None)

    def call(self, sequence_output):
        return self.predictions(sequence_output)


class TFBertNSPHead(keras.layers.Layer):
    """`nsp___cls` in checkpoints: the next-sentence classifier on the pooled output."""

    def __init__(self, config, **kwargs):
        super().__init__(**kwargs)
        self.config = config
        self.seq_relationship = keras.layers.Dense(
            2, kernel_initializer=get_initializer(config.initializer_range), name="seq_relationship"
        )

    def build(self, input_shape=None):
        self.seq_relationship.build((None, self.config.hidden_size))

    def call(self, pooled_output):
        return self.seq_relationship(pooled_output)
