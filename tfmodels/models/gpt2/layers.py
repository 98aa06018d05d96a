"""GPT-2's layers. Layer and variable names are the checkpoint format: they equal the reference's."""

from __future__ import annotations

import keras
import tensorflow as tf

from tfmodels.errors import ConfigError
from tfmodels.layers.attention import causal_bias, merge_heads, scaled_dot_product_attention, split_heads
from tfmodels.layers.core import Conv1D, get_activation, head_mask_5d, padding_bias
from tfmodels.layers.embeddings import TokenEmbedding
from tfmodels.modeling_outputs import TFBaseModelOutputWithPastAndCrossAttentions


def write_to_cache(cache: tf.Tensor, new: tf.Tensor, cache_position: tf.Tensor) -> tf.Tensor:
    """Write `new` (`[batch, heads, q, dim]`) into the preallocated `cache` (`[batch, heads, max_length, dim]`) at
    positions `cache_position .. cache_position + q - 1`; static shapes, so one XLA compilation serves every step."""
    length, steps = tf.shape(cache)[2], tf.shape(new)[2]
    offset = tf.range(length) - cache_position
    inside = tf.reshape((offset >= 0) & (offset < steps), [1, 1, -1, 1])
    spread = tf.gather(new, tf.clip_by_value(offset, 0, steps - 1), axis=2)
    return tf.where(inside, spread, tf.cast(cache, new.dtype))


def causal_bias_at(cache_position: tf.Tensor, query_length: tf.Tensor, key_length: tf.Tensor,
                   dtype: tf.DType) -> tf.Tensor:
    """Additive `[1, 1, q, k]` causal bias for queries at `cache_position + i` over a cache of `k` slots."""
    rows = tf.range(query_length)[:, None] + cache_position
    allowed = tf.cast(tf.range(key_length)[None, :] <= rows, dtype)
    return ((1.0 - allowed) * tf.cast(-10000.0, dtype))[None, None]


class TFGPT2Attention(keras.layers.Layer):
    """Causal self-attention with a fused `c_attn` projection and a key/value cache."""

    def __init__(self, config, layer_idx: int, **kwargs):
        super().__init__(**kwargs)
        if config.n_embd % config.n_head:
            raise ConfigError(f"n_embd ({config.n_embd}) must be a multiple of n_head ({config.n_head}).")
        self.config = config
        self.layer_idx = layer_idx
        self.num_heads = config.n_head
        self.head_dim = config.n_embd // config.n_head
        self.c_attn = Conv1D(3 * config.n_embd, config.n_embd, config.initializer_range, name="c_attn")
        self.c_proj = Conv1D(config.n_embd, config.n_embd, config.initializer_range, name="c_proj")
        self.attn_dropout = keras.layers.Dropout(config.attn_pdrop, name="attn_dropout")
        self.resid_dropout = keras.layers.Dropout(config.resid_pdrop, name="resid_dropout")

    def build(self, input_shape=None):
        self.c_attn.build(None)
        self.c_proj.build(None)

    def call(self, hidden_states, layer_past=None, attention_bias=None, head_mask=None, use_cache=False,
             output_attentions=False, training=False, cache_position=None):
        query, key, value = tf.split(self.c_attn(hidden_states), 3, axis=-1)
        query, key, value = (split_heads(t, self.num_heads, self.head_dim) for t in (query, key, value))
        if layer_past is not None:
            past_key, past_value = tf.unstack(layer_past, num=2, axis=0)
            if cache_position is None:
                key = tf.concat([tf.cast(past_key, key.dtype), key], axis=-2)
                value = tf.concat([tf.cast(past_value, value.dtype), value], axis=-2)
            else:
                key = write_to_cache(past_key, key, cache_position)
                value = write_to_cache(past_value, value, cache_position)
        present = tf.stack([key, value], axis=0) if use_cache else None
        if self.config.scale_attn_by_inverse_layer_idx:
            query = query / tf.cast(self.layer_idx + 1, query.dtype)
        if cache_position is None:
            bias = causal_bias(tf.shape(query)[2], tf.shape(key)[2], query.dtype)
        else:
            bias = causal_bias_at(cache_position, tf.shape(query)[2], tf.shape(key)[2], query.dtype)
        if attention_bias is not None:
            bias = bias + tf.cast(attention_bias, bias.dtype)
        context, probs = scaled_dot_product_attention(
            query, key, value, bias=bias, dropout=self.attn_dropout, head_mask=head_mask,
            scale=self.config.scale_attn_weights, training=training,
        )
        output = self.resid_dropout(self.c_proj(merge_heads(context)), training=training)
        return output, present, (probs if output_attentions else None)


class TFGPT2MLP(keras.layers.Layer):
    """The feed-forward block: `c_fc`, activation, `c_proj`, dropout."""

    def __init__(self, config, **kwargs):
        super().__init__(**kwargs)
        inner = config.n_inner if config.n_inner is not None else 4 * config.n_embd
        self.c_fc = Conv1D(inner, config.n_embd, config.initializer_range, name="c_fc")
        self.c_proj = Conv1D(config.n_embd, inner, config.initializer_range, name="c_proj")
        self.act = get_activation(config.activation_function)
        self.dropout = keras.layers.Dropout(config.resid_pdrop, name="dropout")

    def build(self, input_shape=None):
        self.c_fc.build(None)
        self.c_proj.build(None)

    def call(self, hidden_states, training=False):
        return self.dropout(self.c_proj(self.act(self.c_fc(hidden_states))), training=training)


class TFGPT2Block(keras.layers.Layer):
    """Pre-norm transformer block: `ln_1`, attention, `ln_2`, MLP, with residual connections."""

    def __init__(self, config, layer_idx: int, **kwargs):
        super().__init__(**kwargs)
        self.config = config
        self.ln_1 = keras.layers.LayerNormalization(epsilon=config.layer_norm_epsilon, name="ln_1")
        self.attn = TFGPT2Attention(config, layer_idx, name="attn")
        self.ln_2 = keras.layers.LayerNormalization(epsilon=config.layer_norm_epsilon, name="ln_2")
        self.mlp = TFGPT2MLP(config, name="mlp")

    def build(self, input_shape=None):
        self.ln_1.build((None, None, self.config.n_embd))
        self.attn.build(None)
        self.ln_2.build((None, None, self.config.n_embd))
        self.mlp.build(None)

    def call(self, hidden_states, layer_past=None, attention_bias=None, head_mask=None, use_cache=False,
             output_attentions=False, training=False, cache_position=None):
        attn_output, present, probs = self.attn(
            self.ln_1(hidden_states), layer_past=layer_past, attention_bias=attention_bias, head_mask=head_mask,
            use_cache=use_cache, output_attentions=output_attentions, training=training,
            cache_position=cache_position,
        )
        hidden_states = hidden_states + attn_output
        hidden_states = hidden_states + self.mlp(self.ln_2(hidden_states), training=training)
        return hidden_states, present, probs


class TFGPT2MainLayer(keras.layers.Layer):
    """The GPT-2 decoder (`transformer` in checkpoints): token and position embeddings, blocks, final norm."""

    def __init__(self, config, **kwargs):
        super().__init__(**kwargs)
        if config.add_cross_attention:
            raise ConfigError("GPT-2 with cross-attention (add_cross_attention=True) is not supported.")
        self.config = config
        self.wte = TokenEmbedding(config.vocab_size, config.n_embd, config.initializer_range, name="wte")
        self.wpe = TokenEmbedding(config.n_positions, config.n_embd, config.initializer_range, name="wpe")
        self.drop = keras.layers.Dropout(config.embd_pdrop, name="drop")
        self.h = [TFGPT2Block(config, i, name=f"h_._{i}") for i in range(config.n_layer)]
        self.ln_f = keras.layers.LayerNormalization(epsilon=config.layer_norm_epsilon, name="ln_f")

    def build(self, input_shape=None):
        self.wte.build(None)
        self.wpe.build(None)
        for block in self.h:
            block.build(None)
        self.ln_f.build((None, None, self.config.n_embd))

    def get_input_embeddings(self) -> TokenEmbedding:
        """The token embedding `wte`."""
        return self.wte

    def call(self, input_ids=None, past_key_values=None, attention_mask=None, token_type_ids=None,
             position_ids=None, head_mask=None, inputs_embeds=None, use_cache=False, output_attentions=False,
             output_hidden_states=False, training=False, cache_position=None):
        if input_ids is not None and inputs_embeds is not None:
            raise ValueError("Pass either input_ids or inputs_embeds, not both.")
        if input_ids is None and inputs_embeds is None:
            raise ValueError("Pass input_ids or inputs_embeds.")
        if inputs_embeds is None:
            inputs_embeds = self.wte(input_ids)
        seq_len = tf.shape(inputs_embeds)[1]
        if cache_position is not None:  # a preallocated cache (generation): the new tokens start there
            past_length = cache_position
        else:
            past_length = 0 if past_key_values is None else tf.shape(past_key_values[0])[-2]
        if position_ids is None:
            position_ids = tf.range(past_length, past_length + seq_len)[None, :]
        hidden_states = inputs_embeds + self.wpe(position_ids)
        if token_type_ids is not None:
            hidden_states = hidden_states + self.wte(token_type_ids)
        hidden_states = self.drop(hidden_states, training=training)
        attention_bias = padding_bias(attention_mask, hidden_states.dtype)
        head_masks = head_mask_5d(head_mask, self.config.n_layer)
        pasts = past_key_values if past_key_values is not None else [None] * self.config.n_layer

        presents = () if use_cache else None
        all_hidden = () if output_hidden_states else None
        all_attentions = () if output_attentions else None
        for block, layer_past, block_head_mask in zip(self.h, pasts, head_masks):
            if output_hidden_states:
                all_hidden += (hidden_states,)
            hidden_states, present, probs = block(
                hidden_states, layer_past=layer_past, attention_bias=attention_bias, head_mask=block_head_mask,
                use_cache=use_cache, output_attentions=output_attentions, training=training,
                cache_position=cache_position,
            )
            if use_cache:
                presents += (present,)
            if output_attentions:
                all_attentions += (probs,)
        hidden_states = self.ln_f(hidden_states)
        if output_hidden_states:
            all_hidden += (hidden_states,)
        return TFBaseModelOutputWithPastAndCrossAttentions(
            last_hidden_state=hidden_states, past_key_values=presents, hidden_states=all_hidden,
            attentions=all_attentions,
        )
