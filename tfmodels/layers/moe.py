"""A sparse mixture of experts (Mixtral): the feed-forward block that routes each token to its best experts, the
decoder layer that returns its router logits, and the backbone that collects them.

Each expert computes only the tokens routed to it: they are gathered, run through the expert and scattered back
weighted. Under XLA, which cannot gather a data-dependent number of rows (it pads `tf.where`'s output and then
computes wrongly), each expert that at least one token uses runs on every token, weighted by zero where the token
did not pick it, inside a conditional: a decoding step reads only the experts its tokens use.
"""

from __future__ import annotations

import keras
import tensorflow as tf

from tfmodels import keras_private
from tfmodels.layers.attention import AttentionContext, CrossInputs, KVCache
from tfmodels.layers.core import Linear, get_initializer, shape_dim
from tfmodels.layers.decoder import CausalDecoderBackbone
from tfmodels.layers.decoder_layer import DecoderLayer, GatedFeedForward
from tfmodels.layers.paths import build_at
from tfmodels.layers.transformer import Collect
from tfmodels.modeling_outputs import TFMoeModelOutputWithPast


class SparseMoEFeedForward(keras.layers.Layer):
    """Mixtral's `block_sparse_moe`: the router `gate` scores each token over `num_experts` experts; the token goes
    through its `top_k` best, whose softmax probabilities (in float32) are renormalised to sum to one, and their
    outputs are summed with those weights. Each expert `experts.{j}` is a gated feed-forward (`w1` the gate, `w3`
    the up and `w2` the down projection). While training, `jitter_noise` multiplies the tokens by uniform noise in
    `[1 - jitter_noise, 1 + jitter_noise]` first, as the reference.

    Returns `(output, router_logits)`, the router's logits `[batch * seq, num_experts]`.

    Example:
        >>> moe = SparseMoEFeedForward(4096, 14336, num_experts=8, top_k=2, activation="silu",
        ...                            name="block_sparse_moe")
    """

    def __init__(self, hidden_size: int, intermediate_size: int, num_experts: int, top_k: int, activation: str,
                 jitter_noise: float = 0.0, initializer_range: float = 0.02, **kwargs):
        super().__init__(**kwargs)
        if not 1 <= top_k <= num_experts:
            raise ValueError(f"num_experts_per_tok must be between 1 and num_local_experts ({num_experts}); "
                             f"received {top_k}.")
        self.hidden_size, self.num_experts, self.top_k = hidden_size, num_experts, top_k
        self.jitter_noise = float(jitter_noise)
        self.gate = Linear(num_experts, use_bias=False, kernel_initializer=get_initializer(initializer_range),
                           name="gate")
        self.experts = [GatedFeedForward(hidden_size, intermediate_size, activation, False, initializer_range,
                                         ("w1", "w3", "w2"), name=f"experts.{j}") for j in range(num_experts)]
        self.seed_generator = keras.random.SeedGenerator(0) if self.jitter_noise > 0 else None

    def build(self, input_shape=None):
        build_at(self.gate, self.gate.name, (None, self.hidden_size))
        for expert in self.experts:
            build_at(expert, expert.name, (None, self.hidden_size))

    def route(self, tokens: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
        """`(router_logits, weights, experts)`: each token's `top_k` experts and their renormalised weights."""
        router_logits = self.gate(tokens)
        probabilities = tf.nn.softmax(tf.cast(router_logits, tf.float32), axis=-1)
        weights, experts = tf.math.top_k(probabilities, self.top_k)
        return router_logits, weights / tf.reduce_sum(weights, axis=-1, keepdims=True), experts

    def call(self, hidden_states, training=False):
        if training and self.jitter_noise > 0:
            hidden_states = hidden_states * keras.random.uniform(
                tf.shape(hidden_states), 1.0 - self.jitter_noise, 1.0 + self.jitter_noise, hidden_states.dtype,
                seed=self.seed_generator)
        tokens = tf.reshape(hidden_states, [-1, self.hidden_size])
        router_logits, weights, experts = self.route(tokens)
        combine = self.combine_in_xla if keras_private.in_xla_compilation() else self.combine
        output = combine(tokens, weights, experts)
        shape = (shape_dim(hidden_states, 0), shape_dim(hidden_states, 1), self.hidden_size)
        return tf.reshape(output, shape), router_logits

    def combine(self, tokens: tf.Tensor, weights: tf.Tensor, experts: tf.Tensor) -> tf.Tensor:
        """The weighted sum of each token's experts, each expert computing only its tokens (gather, scatter)."""
        output = tf.zeros_like(tokens)
        for index, expert in enumerate(self.experts):
            picked = tf.equal(experts, index)  # [tokens, top_k]: at most one slot per token
            rows = tf.where(tf.reduce_any(picked, axis=-1))[:, 0]
            weight = tf.gather(tf.reduce_sum(tf.where(picked, weights, 0.0), axis=-1), rows)
            routed = expert(tf.gather(tokens, rows)) * tf.cast(weight, tokens.dtype)[:, None]
            output = tf.tensor_scatter_nd_add(output, rows[:, None], routed)
        return output

    def combine_in_xla(self, tokens: tf.Tensor, weights: tf.Tensor, experts: tf.Tensor) -> tf.Tensor:
        """`combine` with static shapes: an expert some token picked runs on every token (weight zero where not
        picked, so the sums are `combine`'s); one nobody picked is skipped by a conditional."""
        output = tf.zeros_like(tokens)
        for index, expert in enumerate(self.experts):
            picked = tf.equal(experts, index)
            weight = tf.cast(tf.reduce_sum(tf.where(picked, weights, 0.0), axis=-1), tokens.dtype)[:, None]
            output = tf.cond(tf.reduce_any(picked), lambda e=expert, w=weight, o=output: o + e(tokens) * w,
                             lambda o=output: o)
        return output


class MoEDecoderLayer(DecoderLayer):
    """Llama's pre-norm layer whose feed-forward is a `SparseMoEFeedForward`; it returns the router logits after
    the four outputs of a layer, which the stack collects (`Collect.router_logits`).

    Example:
        >>> layer = MoEDecoderLayer(attention, moe, RMSNorm(1e-5, name="input_layernorm"),
        ...                         RMSNorm(1e-5, name="post_attention_layernorm"), name="layers.0")
    """

    def call(self, hidden_states, context: AttentionContext = AttentionContext(), head_mask=None,
             cache: KVCache | None = None, cross: CrossInputs | None = None, training=False):
        """Returns `(hidden_states, present, attention probabilities, None, router_logits)`."""
        output, present, probs = self.attend(hidden_states, context, head_mask, cache, cross, training)
        hidden_states = hidden_states + self.dropout(output, training=training)
        output, router_logits = self.mlp(self.post_attention_layernorm(hidden_states), training=training)
        return hidden_states + self.dropout(output, training=training), present, probs, None, router_logits


class MoEDecoderBackbone(CausalDecoderBackbone):
    """A `CausalDecoderBackbone` of `MoEDecoderLayer`s: with `output_router_logits`, its output carries every
    layer's router logits (for the load-balancing loss).

    Example:
        >>> backbone(input_ids=ids, output_router_logits=True)["router_logits"]  # one [batch * seq, experts] each
    """

    def call(self, input_ids=None, attention_mask=None, position_ids=None, past_key_values=None, inputs_embeds=None,
             use_cache=False, output_attentions=False, output_hidden_states=False, output_router_logits=False,
             training=False, cache_position=None, encoder_hidden_states=None, encoder_attention_mask=None):
        self.refuse_encoder_states(encoder_hidden_states)
        stacked = self.run_layers(input_ids, attention_mask, position_ids, past_key_values, inputs_embeds,
                                  KVCache(past_key_values, cache_position, bool(use_cache)),
                                  Collect(bool(output_attentions), bool(output_hidden_states),
                                          bool(output_router_logits)), training)
        return TFMoeModelOutputWithPast(
            last_hidden_state=stacked["last_hidden_state"], past_key_values=stacked["past_key_values"],
            hidden_states=stacked["hidden_states"], attentions=stacked["attentions"],
            router_logits=stacked["router_logits"])
