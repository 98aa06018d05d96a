"""The transformer layer (post-norm or pre-norm residuals, optional cross-attention) and the layer stack (with
optional cross-layer parameter sharing), placed at the paths of an architecture's weight-name table."""

from __future__ import annotations

import dataclasses
import logging
from typing import NamedTuple

import keras
import tensorflow as tf

from tfmodels import keras_private
from tfmodels.layers.attention import (
    AttentionContext,
    AttentionNames,
    CrossAttention,
    CrossInputs,
    FusedSelfAttention,
    KVCache,
    MultiHeadAttention,
    SelfAttention,
)
from tfmodels.errors import ConfigError
from tfmodels.layers.core import get_activation, make_linear
from tfmodels.layers.normalization import RMSNorm
from tfmodels.layers.paths import Group, build_at, leaf

logger = logging.getLogger(__name__)
BLOCKS = ("attention", "attention_norm", "cross_attention", "cross_attention_norm", "ffn", "ffn_norm")


@dataclasses.dataclass(frozen=True)
class LayerNames:
    """Paths inside one transformer layer, relative to it: the attention block and its projections, the norms, and
    the feed-forward projections (`ffn_in` to the intermediate size, `ffn_out` back, and for a gated feed-forward
    `ffn_gate`, the activated one: Llama's `gate_proj`, T5's `wi_0`).

    `order` lists the blocks (`BLOCKS`) in the order of their variables in the reference's files (default: the
    self-attention and feed-forward norms before their blocks when the layer is pre-norm, after them otherwise;
    the cross-attention norm after its block); a block the layer lacks is skipped.
    """

    attention: str
    attention_projections: AttentionNames
    attention_norm: str
    ffn_in: str
    ffn_out: str
    ffn_norm: str
    cross_attention: str | None = None
    cross_attention_norm: str | None = None
    ffn_gate: str | None = None
    order: tuple[str, ...] | None = None


@dataclasses.dataclass(frozen=True)
class LayerSpec:
    """Sizes and behaviour of a transformer layer.

    `norm_first` selects pre-norm residuals (`x + f(norm(x))`, GPT-2) instead of post-norm (`norm(x + f(x))`,
    BERT); `norm` LayerNorm (`layer`) or `RMSNorm` (`rms`, T5 and Llama); `linear` the projection layout (`dense`
    or GPT-2's `conv1d`); `dropout_after_attention` whether the attention output is dropped out before the
    residual (DistilBERT does not). `ffn` is `plain` (`out(act(in(x)))`) or `gated` (`out(act(gate(x)) * in(x))`,
    Llama and T5 v1.1), with `dropout_inside_ffn` (T5) after the activation. `head_dim` and `num_kv_heads` size
    the attention (grouped-query when fewer key/value heads); `attention_bias`, `attention_output_bias` and
    `ffn_bias` say which projections have biases.
    """

    hidden_size: int
    num_heads: int
    intermediate_size: int
    activation: str = "gelu"
    hidden_dropout: float = 0.1
    attention_dropout: float = 0.1
    layer_norm_eps: float = 1e-12
    initializer_range: float = 0.02
    norm_first: bool = False
    linear: str = "dense"
    cross_attention: bool = False
    scale_attention: bool = True
    scale_by_inverse_layer_index: bool = False
    dropout_after_attention: bool = True
    norm: str = "layer"
    ffn: str = "plain"
    ffn_bias: bool = True
    dropout_inside_ffn: bool = False
    head_dim: int | None = None
    num_kv_heads: int | None = None
    attention_bias: bool = True
    attention_output_bias: bool = True


class Collect(NamedTuple):
    """What a stack returns besides its last hidden state: every step's `hidden_states`, every layer's
    `attentions` (each costs memory until the pass ends), and the `router_logits` of layers with a mixture of
    experts (Mixtral's `MoEDecoderLayer`)."""

    attentions: bool = False
    hidden_states: bool = False
    router_logits: bool = False


class TransformerLayer(keras.layers.Layer):
    """Self-attention, optional cross-attention and the feed-forward block, each with a residual connection and a
    norm, at the paths of `names`.

    Example:
        >>> layer = TransformerLayer(spec, BERT_LAYER, index=0, name="layer_._0")
    """

    # The attention blocks; a family with blocks of its own subclasses the layer (Whisper's key without bias).
    self_attention_class: type[MultiHeadAttention] = SelfAttention
    cross_attention_class: type[MultiHeadAttention] = CrossAttention

    def __init__(self, spec: LayerSpec, names: LayerNames, index: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.spec, self.names, self.index = spec, names, index
        hidden = spec.hidden_size
        if spec.norm not in ("layer", "rms") or spec.ffn not in ("plain", "gated"):
            raise ConfigError(f"LayerSpec norm must be 'layer' or 'rms' and ffn 'plain' or 'gated'; received "
                              f"norm={spec.norm!r}, ffn={spec.ffn!r}.")
        if spec.ffn == "gated" and names.ffn_gate is None:
            raise ConfigError("A gated feed-forward needs LayerNames.ffn_gate, the path of its gate projection.")

        def attention(block: type[MultiHeadAttention], path: str, query_scale=None) -> MultiHeadAttention:
            return block(hidden, spec.num_heads, names.attention_projections, spec.attention_dropout,
                         spec.initializer_range, spec.linear, scale=spec.scale_attention, head_dim=spec.head_dim,
                         num_kv_heads=spec.num_kv_heads, qkv_bias=spec.attention_bias,
                         output_bias=spec.attention_output_bias, query_scale=query_scale, name=leaf(path))

        # A fused query/key/value projection (GPT-2's `c_attn`) is its own block.
        fused = names.attention_projections.qkv is not None
        self_attention = FusedSelfAttention if fused else self.self_attention_class
        query_scale = 1.0 / (index + 1) if spec.scale_by_inverse_layer_index else None

        def norm(path: str) -> keras.layers.Layer:
            if spec.norm == "rms":
                return RMSNorm(spec.layer_norm_eps, name=leaf(path))
            return keras.layers.LayerNormalization(epsilon=spec.layer_norm_eps, name=leaf(path))

        def linear(path: str, units: int, input_dim: int) -> keras.layers.Layer:
            return make_linear(spec.linear, units, input_dim, leaf(path), spec.initializer_range, spec.ffn_bias)

        def make(block: str) -> None:  # attribute order is variable order, which the reference's files follow
            if block == "attention":
                self.attention = attention(self_attention, names.attention, query_scale)
            elif block == "attention_norm":
                self.attention_norm = norm(names.attention_norm)
            elif block == "cross_attention" and spec.cross_attention:
                self.crossattention = attention(self.cross_attention_class, names.cross_attention)
            elif block == "cross_attention_norm" and spec.cross_attention:
                self.cross_attention_norm = norm(names.cross_attention_norm)
            elif block == "ffn":
                if spec.ffn == "gated":
                    self.ffn_gate = linear(names.ffn_gate, spec.intermediate_size, hidden)
                self.ffn_in = linear(names.ffn_in, spec.intermediate_size, hidden)
                self.ffn_out = linear(names.ffn_out, hidden, spec.intermediate_size)
            elif block == "ffn_norm":
                self.ffn_norm = norm(names.ffn_norm)

        order = names.order
        if order is None:
            first, ffn = ("attention_norm", "attention"), ("ffn_norm", "ffn")
            if not spec.norm_first:
                first, ffn = first[::-1], ffn[::-1]
            order = (*first, "cross_attention", "cross_attention_norm", *ffn)
        if sorted(order) != sorted(BLOCKS):
            raise ConfigError(f"LayerNames.order must list each of {BLOCKS} once; received {order}.")
        for block in order:
            make(block)
        self.activation = get_activation(spec.activation)
        self.dropout = keras.layers.Dropout(spec.hidden_dropout, name="dropout")

    def build(self, input_shape=None):
        names, hidden = self.names, (None, None, self.spec.hidden_size)
        build_at(self.attention, names.attention)
        build_at(self.attention_norm, names.attention_norm, hidden)
        if self.spec.cross_attention:
            build_at(self.crossattention, names.cross_attention)
            build_at(self.cross_attention_norm, names.cross_attention_norm, hidden)
        if self.spec.ffn == "gated":
            build_at(self.ffn_gate, names.ffn_gate, hidden)
        build_at(self.ffn_in, names.ffn_in, hidden)
        build_at(self.ffn_out, names.ffn_out, (None, None, self.spec.intermediate_size))
        build_at(self.ffn_norm, names.ffn_norm, hidden)

    def _residual(self, block, norm, hidden_states, dropout: bool, training):
        """`norm(x + f(x))` or `x + f(norm(x))`; `block` returns `(output, *extras)`."""
        if self.spec.norm_first:
            output, *extras = block(norm(hidden_states))
            return hidden_states + self.dropout(output, training=training), extras
        output, *extras = block(hidden_states)
        if dropout:
            output = self.dropout(output, training=training)
        return norm(hidden_states + output), extras

    def call(self, hidden_states, context: AttentionContext = AttentionContext(), head_mask=None,
             cache: KVCache | None = None, cross: CrossInputs | None = None, training=False):
        """Returns `(hidden_states, present, self-attention probabilities, cross-attention probabilities)`.

        `context` (the attention bias and rotary angles) and `head_mask` shape the self-attention, `cache` its
        keys and values (see `SelfAttention`); cross-attention runs when the layer has one and `cross` is given
        (see `CrossAttention`)."""

        def self_attention(x):
            return self.attention(x, context=context, head_mask=head_mask, cache=cache, training=training)

        hidden_states, (present, probs) = self._residual(self_attention, self.attention_norm, hidden_states,
                                                         self.spec.dropout_after_attention, training)
        cross_probs = None
        if self.spec.cross_attention and cross is not None:
            def cross_attention(x):
                return self.crossattention(x, cross=cross, training=training)

            hidden_states, (cross_probs,) = self._residual(cross_attention, self.cross_attention_norm,
                                                           hidden_states, True, training)

        def feed_forward(x):
            if self.spec.ffn == "gated":
                inner = self.activation(self.ffn_gate(x)) * self.ffn_in(x)
            else:
                inner = self.activation(self.ffn_in(x))
            if self.spec.dropout_inside_ffn:
                inner = self.dropout(inner, training=training)
            return (self.ffn_out(inner),)

        hidden_states, _ = self._residual(feed_forward, self.ffn_norm, hidden_states, True, training)
        return hidden_states, present, probs, cross_probs

    def prune_heads(self, heads) -> None:
        """Remove these heads (original indices) from the self-attention."""
        self.attention.prune(heads)


def transformer_layers(spec: LayerSpec, names: LayerNames, paths: list[str]) -> list[TransformerLayer]:
    """One `TransformerLayer` per path (named by its last component), for a `TransformerStack`."""
    return [TransformerLayer(spec, names, i, name=leaf(path)) for i, path in enumerate(paths)]


class TransformerStack(keras.layers.Layer):
    """The layers of an encoder or decoder, at `paths` (relative to the stack), applied in `schedule` order: by
    default each once; ALBERT shares one group's parameters across several applications. The head mask's row for
    a layer is its step, or `head_mask_rows[layer]` (ALBERT's reference indexes it by layer, not by step).

    `model.bert.encoder[0]` (or `.layer[0]`) is the first layer.

    Example:
        >>> paths = [f"layer_._{i}" for i in range(12)]
        >>> stack = TransformerStack(transformer_layers(spec, BERT_LAYER, paths), paths, name="encoder")
    """

    def __init__(self, layers: list[keras.layers.Layer], paths: list[str], schedule: list[list[int]] | None = None,
                 head_mask_rows: list[int] | None = None, **kwargs):
        super().__init__(**kwargs)
        if len(layers) != len(paths):
            raise ValueError(f"A stack needs one path per layer; received {len(layers)} layers, {len(paths)} paths.")
        self.paths = list(paths)
        self.schedule = schedule if schedule is not None else [[i] for i in range(len(paths))]
        self.head_mask_rows = head_mask_rows
        self.layer = list(layers)
        self.gradient_checkpointing = False

    def __getitem__(self, index):
        return self.layer[index]

    def __len__(self) -> int:
        return len(self.layer)

    def build(self, input_shape=None):
        for layer, path in zip(self.layer, self.paths):
            build_at(layer, path)

    def call(self, hidden_states, context: AttentionContext = AttentionContext(), head_masks=None,
             cache: KVCache | None = None, cross: CrossInputs | None = None, collect: Collect = Collect(),
             training=False) -> dict:
        """Runs the schedule. Returns `last_hidden_state`, and `hidden_states` (the input first, then each applied
        step), `attentions` (`cross_attentions` with `cross`) and `router_logits` (from the layers that return
        them after their four outputs) as `collect` asks, and `past_key_values` (one cache per application) with
        `cache.keep`. `context` goes to every layer; `head_masks` holds one mask (or
        None) per step; `cache.past` one cache per step; `cross.key_value` one projection per layer and
        `cross.head_mask` one mask per step."""
        steps = len(self.schedule)
        cache = cache if cache is not None else KVCache()
        if cache.past is not None and len(cache.past) != steps:
            raise ValueError(f"past_key_values holds {len(cache.past)} layer caches; the model has {steps} "
                             "layers. Pass the past_key_values the model returned (use_cache=True).")
        checkpointing = (self.gradient_checkpointing and training is True and cache.past is None
                         and not collect.attentions)
        if checkpointing and cache.keep:
            logger.warning("use_cache=True does not combine with gradient checkpointing while training: no cache "
                           "is returned (pass use_cache=False to silence this).")
            cache = dataclasses.replace(cache, keep=False)
        head_masks = head_masks if head_masks is not None else [None] * steps
        cross_head_masks = cross.head_mask if cross is not None and cross.head_mask is not None else [None] * steps
        pasts = cache.past if cache.past is not None else [None] * steps
        all_hidden = (hidden_states,) if collect.hidden_states else None
        attentions, cross_attentions, presents, router_logits = (), (), (), ()
        for step, (blocks, head_mask, cross_head_mask, layer_past) in enumerate(
                zip(self.schedule, head_masks, cross_head_masks, pasts)):
            for block in blocks:
                if self.head_mask_rows is not None:
                    head_mask = head_masks[self.head_mask_rows[block]]
                layer_cross = None
                if cross is not None:
                    key_value = None if cross.key_value is None else cross.key_value[block]
                    layer_cross = cross._replace(key_value=key_value, head_mask=cross_head_mask)
                layer_cache = dataclasses.replace(cache, past=layer_past)
                arguments = dict(context=self.context_of(context, block), head_mask=head_mask,
                                 cache=layer_cache, cross=layer_cross, training=training)
                if checkpointing:
                    (hidden_states, *extras), present, probs, cross_probs = (
                        self._checkpointed(self.layer[block], hidden_states, arguments), None, None, None)
                else:
                    hidden_states, present, probs, cross_probs, *extras = self.layer[block](hidden_states,
                                                                                            **arguments)
                attentions += (probs,)
                cross_attentions += (cross_probs,)
                router_logits += tuple(extras)
            presents += (present,)
            if collect.hidden_states:
                all_hidden += (hidden_states,)
        return {
            "last_hidden_state": hidden_states,
            "hidden_states": all_hidden,
            "attentions": attentions if collect.attentions else None,
            "cross_attentions": cross_attentions if collect.attentions and cross is not None else None,
            "past_key_values": presents if cache.keep else None,
            "router_logits": router_logits if collect.router_logits else None,
        }

    def context_of(self, context: AttentionContext, block: int) -> AttentionContext:
        """The context layer `block` attends with: the stack's one context (`DecoderStack` picks by layer kind)."""
        return context

    @staticmethod
    def _checkpointed(layer: TransformerLayer, hidden_states, arguments: dict):
        """`layer(hidden_states, **arguments)`'s hidden states and any outputs after its four (a mixture of experts'
        router logits), its activations recomputed in the backward pass (`gradient_checkpointing`, through
        `tf.recompute_grad`) instead of kept. Tensor arguments go positionally,
        so gradients reach them (encoder states, a learned position bias); dropout draws the same masks again."""
        structure = tf.nest.flatten(arguments)
        tensor_slots = [i for i, value in enumerate(structure) if tf.is_tensor(value)]
        seeds = [sub.seed_generator.state for sub in keras_private.sublayers(layer, include_self=True)
                 if getattr(sub, "seed_generator", None) is not None]
        start = [tf.identity(state.value) for state in seeds]
        calls = []

        def forward(hidden, *tensors):
            if calls:  # the recomputation: rewind the dropout seeds to where the forward pass started
                for state, value in zip(seeds, start):
                    state.assign(value)
            calls.append(True)
            flat = list(structure)
            for slot, tensor in zip(tensor_slots, tensors):
                flat[slot] = tensor
            outputs = layer(hidden, **tf.nest.pack_sequence_as(arguments, flat))
            return (outputs[0], *outputs[4:])

        return tf.recompute_grad(forward)(hidden_states, *(structure[i] for i in tensor_slots))


class GroupedTransformerStack(Group, TransformerStack):
    """A `TransformerStack` whose layers sit directly under its parent (GPT-2's `transformer/h_._0`)."""

