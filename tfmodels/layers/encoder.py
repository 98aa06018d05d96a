"""`EncoderBackbone`: embeddings, an optional factorised projection, the transformer stack and an optional pooler,
as BERT, RoBERTa, DistilBERT, ALBERT and ELECTRA assemble them. With `causal=True` (BERT's `is_decoder`) it is a
decoder: causal attention, a key/value cache and cross-attention to an encoder's states."""

from __future__ import annotations

import dataclasses

import keras
import tensorflow as tf

from tfmodels.layers.attention import AttentionContext, KVCache, causal_bias, cross_inputs
from tfmodels.errors import ConfigError
from tfmodels.layers.core import get_initializer, head_mask_5d, padding_bias, shape_dim
from tfmodels.layers.embeddings import EmbeddingNames, TextEmbeddings, TokenEmbedding
from tfmodels.layers.paths import build_at, leaf
from tfmodels.layers.transformer import Collect, LayerNames, LayerSpec, TransformerStack, transformer_layers
from tfmodels.modeling_outputs import TFBaseModelOutputWithPoolingAndCrossAttentions


def cached_length(past_key_values, cache_position):
    """Where the new tokens start: `cache_position` in a preallocated cache, else the length of the cache they are
    appended to (0 without one)."""
    if cache_position is not None:
        return cache_position
    return 0 if past_key_values is None else _cache_slots(past_key_values)


def _cache_slots(past_key_values) -> int | tf.Tensor:
    """The key length of a cache: per layer `[2, batch, heads, length, dim]`, or a `(key, value)` pair."""
    first = past_key_values[0]
    return shape_dim(first[0] if isinstance(first, (tuple, list)) else tf.convert_to_tensor(first), -2)


def self_attention_bias(hidden_states, attention_mask, past_length, past_key_values=None, cache_position=None,
                        causal: bool = False) -> tf.Tensor:
    """The additive self-attention bias of a forward pass, computed once for every layer: the padding bias of
    `attention_mask` (over the cached and new keys; all ones without one), plus with `causal` the causal bias of
    queries starting at `past_length`. Keys are the preallocated cache's slots when `cache_position` is given.

    Example:
        >>> bias = self_attention_bias(hidden_states, mask, past_length=0, causal=True)  # [batch, 1, q, k]
    """
    query_length = shape_dim(hidden_states, 1)
    if cache_position is not None:
        key_length = _cache_slots(past_key_values)
    else:
        key_length = past_length + query_length
    if attention_mask is None:
        attention_mask = tf.ones(tf.stack([shape_dim(hidden_states, 0), key_length]), dtype=tf.int32)
    bias = padding_bias(attention_mask, hidden_states.dtype)
    if causal:
        bias = bias + causal_bias(past_length, query_length, key_length, hidden_states.dtype)
    return bias


def check_ids_or_embeds(input_ids, inputs_embeds) -> None:
    """Raise unless exactly one of `input_ids` and `inputs_embeds` is given.

    Example:
        >>> check_ids_or_embeds(None, None)  # ValueError: Pass input_ids or inputs_embeds.
    """
    if input_ids is not None and inputs_embeds is not None:
        raise ValueError("Pass either input_ids or inputs_embeds, not both.")
    if input_ids is None and inputs_embeds is None:
        raise ValueError("Pass input_ids or inputs_embeds.")


@dataclasses.dataclass(frozen=True)
class EncoderLayout:
    """Where an encoder backbone's blocks sit, relative to the backbone (an architecture's `WeightTable.blocks`).

    `layer` is formatted with `i` (the layer index); `projection` is the factorised embedding projection (ALBERT's
    `encoder/embedding_hidden_mapping_in`, ELECTRA's `embeddings_project`); `embeddings_last` creates the
    embeddings after the stack, for the variable order of the reference's RoBERTa files.
    """

    layer_names: LayerNames
    embedding_names: EmbeddingNames = EmbeddingNames()
    embeddings: str = "embeddings"
    stack: str = "encoder"
    layer: str = "layer_._{i}"
    pooler: str | None = "pooler/dense"
    projection: str | None = None
    embeddings_last: bool = False


@dataclasses.dataclass(frozen=True)
class EmbeddingSpec:
    """Sizes of an encoder's embeddings (`dim` may differ from the hidden size: ALBERT, ELECTRA)."""

    vocab_size: int
    dim: int
    max_positions: int
    type_vocab_size: int = 0
    layer_norm_eps: float = 1e-12
    dropout: float = 0.1
    padding_idx: int | None = None
    sinusoidal: bool = False


class EncoderBackbone(keras.layers.Layer):
    """An encoder (or, with `causal`, a decoder) assembled from the kit's blocks at `layout`'s paths.

    Example:
        >>> backbone = EncoderBackbone(layout, embedding_spec, layer_spec, num_layers=12, name="bert")
        >>> backbone(input_ids=ids, attention_mask=mask)["last_hidden_state"]
    """

    def __init__(self, layout: EncoderLayout, embedding_spec: EmbeddingSpec, layer_spec: LayerSpec,
                 num_layers: int, add_pooling_layer: bool = True, causal: bool = False,
                 initializer_range: float = 0.02, schedule: list[list[int]] | None = None,
                 layer_paths: list[str] | None = None, head_mask_rows: list[int] | None = None, **kwargs):
        super().__init__(**kwargs)
        if layer_spec.cross_attention and not causal:
            raise ConfigError("Cross-attention (add_cross_attention=True) is for decoders: set is_decoder=True too.")
        self.layout, self.layer_spec, self.causal = layout, layer_spec, causal
        self.num_steps = len(schedule) if schedule is not None else num_layers
        e = embedding_spec
        self.embedding_dim = e.dim

        def make_embeddings():
            return TextEmbeddings(e.vocab_size, e.dim, e.max_positions, e.type_vocab_size, layout.embedding_names,
                                  e.layer_norm_eps, e.dropout, initializer_range, e.padding_idx, e.sinusoidal,
                                  name=leaf(layout.embeddings))

        if not layout.embeddings_last:
            self.embeddings = make_embeddings()
        self.projection = None
        if layout.projection is not None:
            self.projection = keras.layers.Dense(layer_spec.hidden_size,
                                                 kernel_initializer=get_initializer(initializer_range),
                                                 name=leaf(layout.projection))
        paths = layer_paths or [layout.layer.format(i=i) for i in range(num_layers)]
        self.encoder = TransformerStack(transformer_layers(layer_spec, layout.layer_names, paths), paths, schedule,
                                        head_mask_rows, name=leaf(layout.stack))
        self.pooler = None
        if add_pooling_layer and layout.pooler is not None:
            self.pooler = keras.layers.Dense(layer_spec.hidden_size, activation="tanh",
                                             kernel_initializer=get_initializer(initializer_range),
                                             name=leaf(layout.pooler))
        if layout.embeddings_last:
            self.embeddings = make_embeddings()

    def build(self, input_shape=None):
        layout = self.layout
        build_at(self.embeddings, layout.embeddings)
        if self.projection is not None:
            build_at(self.projection, layout.projection, (None, None, self.embedding_dim))
        build_at(self.encoder, layout.stack)
        if self.pooler is not None:
            build_at(self.pooler, layout.pooler, (None, self.layer_spec.hidden_size))

    def get_input_embeddings(self) -> TokenEmbedding:
        """The word embeddings."""
        return self.embeddings.word_embeddings

    @property
    def stack(self) -> TransformerStack:
        """The transformer layers (`encoder`)."""
        return self.encoder

    @property
    def max_sequence_length(self) -> int | None:
        """The longest input (past tokens included) the position table covers."""
        return self.embeddings.max_sequence_length

    def prune_heads(self, heads_to_prune: dict[int, list[int]]) -> None:
        """Prune `{layer: [heads]}` (original head indices) in the stack's layers; every layer and head index is
        checked before anything changes."""
        layers = self.encoder.layer
        for layer_index, heads in heads_to_prune.items():
            if not 0 <= int(layer_index) < len(layers):
                raise ValueError(f"Cannot prune heads of layer {layer_index}: the model has {len(layers)} layers.")
            heads_count = layers[int(layer_index)].attention.original_num_heads
            wrong = [h for h in heads if not 0 <= int(h) < heads_count]
            if wrong:
                raise ValueError(f"Cannot prune heads {wrong} of layer {layer_index}: its heads are 0 to "
                                 f"{heads_count - 1}.")
        for layer_index, heads in heads_to_prune.items():
            layers[int(layer_index)].prune_heads(heads)

    def call(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None, head_mask=None,
             inputs_embeds=None, encoder_hidden_states=None, encoder_attention_mask=None, past_key_values=None,
             use_cache=False, output_attentions=False, output_hidden_states=False, training=False,
             cache_position=None):
        check_ids_or_embeds(input_ids, inputs_embeds)
        if encoder_hidden_states is not None and not self.layer_spec.cross_attention:
            raise ValueError("encoder_hidden_states were passed, but the model has no cross-attention layers; "
                             "build it with add_cross_attention=True (and is_decoder=True).")
        if head_mask is not None and any(layer.attention.pruned_heads for layer in self.encoder.layer):
            raise ValueError("head_mask cannot be combined with pruned heads; prune or mask, not both.")
        past_length = cached_length(past_key_values, cache_position)
        hidden_states = self.embeddings(input_ids=input_ids, position_ids=position_ids,
                                        token_type_ids=token_type_ids, inputs_embeds=inputs_embeds,
                                        past_length=past_length, training=training)
        if self.projection is not None:
            hidden_states = self.projection(hidden_states)
        bias = self_attention_bias(hidden_states, attention_mask, past_length, past_key_values, cache_position,
                                   self.causal)
        encoder_bias = None
        if encoder_hidden_states is not None and encoder_attention_mask is not None:
            encoder_bias = padding_bias(encoder_attention_mask, hidden_states.dtype)
        head_masks = head_mask_5d(head_mask, self.num_steps)
        stacked = self.encoder(
            hidden_states, context=AttentionContext(bias), head_masks=head_masks,
            cache=KVCache(past_key_values, cache_position, bool(use_cache and self.causal)),
            # As the reference: one head mask for both attentions.
            cross=cross_inputs(encoder_hidden_states, encoder_bias, head_masks=head_masks),
            collect=Collect(bool(output_attentions), bool(output_hidden_states)), training=training,
        )
        sequence_output = stacked["last_hidden_state"]
        return TFBaseModelOutputWithPoolingAndCrossAttentions(
            last_hidden_state=sequence_output,
            pooler_output=self.pooler(sequence_output[:, 0]) if self.pooler is not None else None,
            past_key_values=stacked["past_key_values"], hidden_states=stacked["hidden_states"],
            attentions=stacked["attentions"], cross_attentions=stacked["cross_attentions"],
        )
