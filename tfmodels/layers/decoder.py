"""`CausalDecoderBackbone`: the decoder-only language model of the LLM families (token embeddings, pre-norm layers
with rotary positions and grouped-query attention, a final norm), built from the parts each family chooses, with
layers of several kinds (full attention, sliding window); and `LMHead`, its output projection.

The causal, padding and sliding-window biases are computed once per pass; `past_key_values` (one
`[2, batch, kv_heads, length, head_dim]` tensor per layer) is appended to, or with `cache_position` a preallocated
cache is written in place (what `generate` uses).
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import tensorflow as tf

from tfmodels.errors import ConfigError
from tfmodels.layers.attention import AttentionContext, KVCache
from tfmodels.layers.core import Linear, get_initializer, shape_dim
from tfmodels.layers.decoder_layer import DecoderLayerNames
from tfmodels.layers.embeddings import TokenEmbedding, replace_variable, resized_rows
from tfmodels.layers.encoder import cached_length, check_ids_or_embeds, self_attention_bias
from tfmodels.layers.paths import Group, build_at, leaf
from tfmodels.layers.rotary import RotaryEmbedding
from tfmodels.layers.transformer import Collect, GroupedTransformerStack, LayerNames
from tfmodels.modeling_outputs import TFBaseModelOutputWithPastAndCrossAttentions


@dataclasses.dataclass(frozen=True)
class CausalDecoderLayout:
    """Where a decoder-only backbone's blocks sit, relative to it: the token table, the layers (formatted with
    `i`, directly under the backbone) and the final norm; `layer_names` are the names inside a layer
    (`LayerNames` for Llama's `TransformerLayer`, `DecoderLayerNames` for the families built on `DecoderLayer`)."""

    layer_names: LayerNames | DecoderLayerNames
    tokens: str = "embed_tokens"
    layer: str = "layers.{i}"
    final_norm: str = "norm"


def sliding_window_bias(past_length, query_length, key_length, window: int, dtype: tf.DType) -> tf.Tensor:
    """Additive `[1, 1, q, k]` bias hiding, from the query at position `past_length + i`, the keys `window` or more
    positions before it (it sees itself and the `window - 1` before; later keys are the causal bias's business).

    Example:
        >>> sliding_window_bias(0, 4, 4, 2, tf.float32)[0, 0, 3]  # 0 0 only for keys 2 and 3: -1e4 -1e4 0 0
    """
    rows = tf.range(query_length)[:, None] + past_length
    hidden = tf.range(key_length)[None, :] <= rows - window
    return (tf.cast(hidden, dtype) * tf.cast(-10000.0, dtype))[None, None]


@dataclasses.dataclass(frozen=True)
class AttentionKind:
    """How the layers of one kind (`full_attention`, `sliding_attention`) attend: their rotary tables and their
    `window` (None: every earlier position; else the position itself and the `window - 1` before it)."""

    rotary: RotaryEmbedding
    window: int | None = None


def layer_kinds(config) -> list[str]:
    """Each layer's kind: the config's `layer_types` (Qwen2, Qwen3, Gemma 2 and 3), else `sliding_attention` for
    every layer when the config has a `sliding_window` (Mistral), else `full_attention`.

    Example:
        >>> layer_kinds(MistralConfig(num_hidden_layers=2, sliding_window=4096))
        ['sliding_attention', 'sliding_attention']
    """
    kinds = getattr(config, "layer_types", None)
    if kinds is not None:
        if len(kinds) != config.num_hidden_layers:
            raise ConfigError(f"layer_types lists {len(kinds)} layers; the config has num_hidden_layers="
                              f"{config.num_hidden_layers}.")
        unknown = sorted(set(kinds) - {"full_attention", "sliding_attention"})
        if unknown:
            raise ConfigError(f"layer_types may hold 'full_attention' and 'sliding_attention'; received {unknown}.")
        return list(kinds)
    kind = "full_attention" if getattr(config, "sliding_window", None) is None else "sliding_attention"
    return [kind] * config.num_hidden_layers


class DecoderStack(GroupedTransformerStack):
    """A decoder-only model's layers, directly under the backbone, each attending with the context of its kind
    (`kinds[i]`): the backbone passes one `AttentionContext` per kind (Gemma 2's sliding and full layers
    alternate).

    Example:
        >>> stack = DecoderStack(layers, ["layers.0", "layers.1"], ["sliding_attention", "full_attention"],
        ...                      name="layers")
    """

    def __init__(self, layers: list[keras.layers.Layer], paths: list[str], kinds: list[str], **kwargs):
        super().__init__(layers, paths, **kwargs)
        if len(kinds) != len(layers):
            raise ValueError(f"A decoder stack needs one kind per layer; received {len(kinds)} for {len(layers)}.")
        self.kinds = list(kinds)

    def context_of(self, context: dict[str, AttentionContext], block: int) -> AttentionContext:
        """The context of layer `block`'s kind."""
        return context[self.kinds[block]]


class CausalDecoderBackbone(keras.layers.Layer):
    """A decoder-only transformer (`model` in Llama-family checkpoints) from its parts: the token embeddings
    `embed_tokens`, the layers (a `DecoderStack`), the final norm `norm`, and how each kind of layer attends
    (`kinds`: rotary tables and sliding window).

    Position ids default to `past_length, past_length + 1, ...` as in the reference's forward pass (`generate`
    passes positions counted over the attention mask, so left padding does not shift them). The causal and padding
    bias is computed once per pass, the window's and the rotary tables once per kind.

    Example:
        >>> backbone = CausalDecoderBackbone(LLAMA_WEIGHTS.blocks, embed_tokens, stack, RMSNorm(1e-6, name="norm"),
        ...                                  {"full_attention": AttentionKind(rotary)}, name="model")
        >>> backbone(input_ids=ids, attention_mask=mask, use_cache=True)["past_key_values"]
    """

    def __init__(self, layout: CausalDecoderLayout, embed_tokens: TokenEmbedding, layers: DecoderStack,
                 norm: keras.layers.Layer, kinds: dict[str, AttentionKind], **kwargs):
        super().__init__(**kwargs)
        missing = sorted(set(layers.kinds) - set(kinds))
        if missing:
            raise ConfigError(f"Layers of kinds {missing} have no AttentionKind; received kinds {sorted(kinds)}.")
        self.layout, self.num_steps, self.kinds = layout, len(layers), dict(kinds)
        self.hidden_size = embed_tokens.output_dim
        self.embed_tokens, self.layers, self.norm = embed_tokens, layers, norm

    def build(self, input_shape=None):
        build_at(self.embed_tokens, self.layout.tokens)
        self.layers.build(None)
        build_at(self.norm, self.layout.final_norm, (None, None, self.hidden_size))

    @property
    def stack(self) -> DecoderStack:
        """The transformer layers (`layers`)."""
        return self.layers

    def get_input_embeddings(self) -> TokenEmbedding:
        """The token embeddings `embed_tokens`."""
        return self.embed_tokens

    def contexts(self, bias: tf.Tensor, position_ids: tf.Tensor, past_length, query_length,
                 dtype: tf.DType) -> dict[str, AttentionContext]:
        """One `AttentionContext` per kind of layer: `bias` (causal and padding) plus the kind's window, and its
        rotary tables (computed once per rotary embedding)."""
        key_length = shape_dim(bias, -1)
        tables, contexts = {}, {}
        for name, kind in self.kinds.items():
            if kind.rotary not in tables:
                tables[kind.rotary] = kind.rotary(position_ids, dtype)
            kind_bias = bias
            if kind.window is not None:
                kind_bias = bias + sliding_window_bias(past_length, query_length, key_length, kind.window, bias.dtype)
            contexts[name] = AttentionContext(kind_bias, tables[kind.rotary])
        return contexts

    def call(self, input_ids=None, attention_mask=None, position_ids=None, past_key_values=None, inputs_embeds=None,
             use_cache=False, output_attentions=False, output_hidden_states=False, training=False,
             cache_position=None, encoder_hidden_states=None, encoder_attention_mask=None):
        self.refuse_encoder_states(encoder_hidden_states)
        stacked = self.run_layers(input_ids, attention_mask, position_ids, past_key_values, inputs_embeds,
                                  KVCache(past_key_values, cache_position, bool(use_cache)),
                                  Collect(bool(output_attentions), bool(output_hidden_states)), training)
        return TFBaseModelOutputWithPastAndCrossAttentions(
            last_hidden_state=stacked["last_hidden_state"], past_key_values=stacked["past_key_values"],
            hidden_states=stacked["hidden_states"], attentions=stacked["attentions"])

    def refuse_encoder_states(self, encoder_hidden_states) -> None:
        """A decoder-only model has no cross-attention: encoder states are refused."""
        if encoder_hidden_states is not None:
            raise ValueError(f"{type(self).__name__} is a decoder-only model without cross-attention: "
                             "encoder_hidden_states cannot be used.")

    def run_layers(self, input_ids, attention_mask, position_ids, past_key_values, inputs_embeds, cache: KVCache,
                   collect: Collect, training) -> dict:
        """The pass: embeddings, the layers with each kind's context, the final norm. Returns the stack's dict
        with `last_hidden_state` normed and `hidden_states` ending with it."""
        check_ids_or_embeds(input_ids, inputs_embeds)
        if inputs_embeds is None:
            inputs_embeds = self.embed_tokens(input_ids)
        hidden_states = inputs_embeds
        past_length = cached_length(past_key_values, cache.position)
        query_length = shape_dim(hidden_states, 1)
        if position_ids is None:
            position_ids = tf.range(past_length, past_length + query_length)[None, :]
        bias = self_attention_bias(hidden_states, attention_mask, past_length, past_key_values, cache.position,
                                   causal=True)
        contexts = self.contexts(bias, position_ids, past_length, query_length, hidden_states.dtype)
        stacked = self.layers(hidden_states, context=contexts, cache=cache, collect=collect, training=training)
        last = self.norm(stacked["last_hidden_state"])
        if collect.hidden_states:
            stacked["hidden_states"] = stacked["hidden_states"][:-1] + (last,)
        return {**stacked, "last_hidden_state": last}


class LMHead(Group):
    """The output projection onto the vocabulary: a Dense `lm_head` without bias (`kernel` `[hidden, vocab]`), or,
    with `tied_embeddings`, the token embeddings' transpose (no weights of its own).

    It is its own output embedding: `set_matrix` and `resize` take and keep `[vocab, hidden]` rows, as the input
    embeddings do.

    Example:
        >>> head = LMHead(32000, 4096, "lm_head", name="lm_head_layer")
        >>> logits = head(hidden_states)  # [batch, seq, 32000]
    """

    def __init__(self, vocab_size: int, hidden_size: int, path: str, tied_embeddings: TokenEmbedding | None = None,
                 initializer_range: float = 0.02, **kwargs):
        super().__init__(**kwargs)
        self.head_path, self.hidden_size, self.initializer_range = path, hidden_size, initializer_range
        self.tied_embeddings = tied_embeddings
        self.lm_head = None
        if tied_embeddings is None:
            self.lm_head = Linear(vocab_size, use_bias=False, kernel_initializer=get_initializer(initializer_range),
                                  name=leaf(path))

    def layer_paths(self) -> dict[str, str]:
        """Attribute name -> checkpoint path of this head's layers."""
        return {} if self.lm_head is None else {"lm_head": self.head_path}

    def build(self, input_shape=None):
        if self.lm_head is not None:
            build_at(self.lm_head, self.head_path, (None, None, self.hidden_size))

    def call(self, hidden_states):
        if self.tied_embeddings is not None:
            return self.tied_embeddings.attend(hidden_states)
        return self.lm_head(hidden_states)

    @property
    def input_dim(self) -> int:
        """The vocabulary size."""
        if self.tied_embeddings is not None:
            return self.tied_embeddings.input_dim
        return self.lm_head.units

    def get_output_embeddings(self):
        """The tied token embeddings, or this head."""
        return self.tied_embeddings if self.tied_embeddings is not None else self

    def set_matrix(self, value) -> None:
        """Replace the projection by `value` (`[vocab, hidden]` rows, as embeddings are laid out)."""
        value = np.asarray(keras.ops.convert_to_numpy(value))
        if value.ndim != 2 or value.shape[1] != self.hidden_size:
            raise ValueError(f"Expected an output matrix [vocab, {self.hidden_size}]; received shape {value.shape}.")
        kernel = self.lm_head.kernel
        if value.shape[0] != self.lm_head.units:
            replace_variable(self.lm_head, "_kernel", value.T.astype(kernel.dtype))
            self.lm_head.units = value.shape[0]
        else:
            kernel.assign(value.T.astype(kernel.dtype))

    def resize(self, new_num_tokens: int) -> None:
        """Keep the first rows and initialise any new ones like a fresh matrix."""
        self.set_matrix(resized_rows(keras.ops.convert_to_numpy(self.lm_head.kernel).T, new_num_tokens,
                                     self.initializer_range))

    def get_bias(self) -> None:
        """None: this head has no bias."""
        return None

    def set_bias(self, value) -> None:
        """Refused: this head has no bias."""
        raise NotImplementedError("This LM head has no bias to set.")

    def resize_bias(self, new_num_tokens: int) -> None:
        """Nothing to resize: the head has no bias."""


class SoftCappedLMHead(LMHead):
    """An `LMHead` whose logits are capped to `softcap * tanh(logits / softcap)` (Gemma 2's
    `final_logit_softcapping`), in training and generation alike.

    Example:
        >>> head = SoftCappedLMHead(256000, 2304, "lm_head", tied_embeddings=embed_tokens, softcap=30.0,
        ...                         name="lm_head_layer")
    """

    def __init__(self, vocab_size: int, hidden_size: int, path: str, tied_embeddings: TokenEmbedding | None = None,
                 initializer_range: float = 0.02, *, softcap: float, **kwargs):
        super().__init__(vocab_size, hidden_size, path, tied_embeddings, initializer_range, **kwargs)
        self.softcap = float(softcap)

    def call(self, hidden_states):
        logits = super().call(hidden_states)
        return tf.tanh(logits / self.softcap) * self.softcap
