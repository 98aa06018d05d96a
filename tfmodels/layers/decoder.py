"""`CausalDecoderBackbone`: the decoder-only language model of Llama, Mistral and Qwen2 (token embeddings, pre-norm
layers with rotary positions, grouped-query attention and a gated feed-forward, a final RMSNorm), and `LMHead`, its
untied output projection.

The causal, padding and sliding-window biases are computed once per pass; `past_key_values` (one
`[2, batch, kv_heads, length, head_dim]` tensor per layer) is appended to, or with `cache_position` a preallocated
cache is written in place (what `generate` uses).
"""

from __future__ import annotations

import dataclasses

import keras
import numpy as np
import tensorflow as tf

from tfmodels.layers.attention import AttentionContext, KVCache
from tfmodels.layers.core import Linear, get_initializer, shape_dim
from tfmodels.layers.embeddings import TokenEmbedding, replace_variable, resized_rows
from tfmodels.layers.encoder import cached_length, check_ids_or_embeds, self_attention_bias
from tfmodels.layers.normalization import RMSNorm
from tfmodels.layers.paths import Group, build_at, leaf
from tfmodels.layers.rotary import RotaryEmbedding
from tfmodels.layers.transformer import Collect, GroupedTransformerStack, LayerNames, LayerSpec
from tfmodels.modeling_outputs import TFBaseModelOutputWithPastAndCrossAttentions


@dataclasses.dataclass(frozen=True)
class CausalDecoderLayout:
    """Where a decoder-only backbone's blocks sit, relative to it: the token table, the layers (formatted with
    `i`, directly under the backbone) and the final norm."""

    layer_names: LayerNames
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


class CausalDecoderBackbone(keras.layers.Layer):
    """A decoder-only transformer (`model` in Llama-family checkpoints): `embed_tokens`, the pre-norm layers
    (`layer_spec`: RMSNorm, gated feed-forward, grouped-query attention) given rotary positions, and the final
    RMSNorm `norm`.

    Position ids default to `past_length, past_length + 1, ...` as in the reference's forward pass (`generate`
    passes positions counted over the attention mask, so left padding does not shift them); `sliding_window`
    (Mistral) hides keys that far back or further.

    Example:
        >>> backbone = CausalDecoderBackbone(LLAMA_WEIGHTS.blocks, 32000, layer_spec, 32, rotary, name="model")
        >>> backbone(input_ids=ids, attention_mask=mask, use_cache=True)["past_key_values"]
    """

    def __init__(self, layout: CausalDecoderLayout, vocab_size: int, layer_spec: LayerSpec, num_layers: int,
                 rotary: RotaryEmbedding, norm_eps: float = 1e-6, sliding_window: int | None = None,
                 initializer_range: float = 0.02, **kwargs):
        super().__init__(**kwargs)
        self.layout, self.layer_spec, self.num_steps = layout, layer_spec, num_layers
        self.rotary, self.sliding_window = rotary, sliding_window
        self.hidden_size = layer_spec.hidden_size
        self.embed_tokens = TokenEmbedding(vocab_size, layer_spec.hidden_size, initializer_range,
                                           name=leaf(layout.tokens))
        paths = [layout.layer.format(i=i) for i in range(num_layers)]
        self.layers = GroupedTransformerStack(layer_spec, layout.layer_names, paths, name="layers")
        self.norm = RMSNorm(norm_eps, name=leaf(layout.final_norm))

    def build(self, input_shape=None):
        build_at(self.embed_tokens, self.layout.tokens)
        self.layers.build(None)
        build_at(self.norm, self.layout.final_norm, (None, None, self.hidden_size))

    @property
    def stack(self) -> GroupedTransformerStack:
        """The transformer layers (`layers`)."""
        return self.layers

    def get_input_embeddings(self) -> TokenEmbedding:
        """The token embeddings `embed_tokens`."""
        return self.embed_tokens

    def call(self, input_ids=None, attention_mask=None, position_ids=None, past_key_values=None, inputs_embeds=None,
             use_cache=False, output_attentions=False, output_hidden_states=False, training=False,
             cache_position=None, encoder_hidden_states=None, encoder_attention_mask=None):
        check_ids_or_embeds(input_ids, inputs_embeds)
        if encoder_hidden_states is not None:
            raise ValueError(f"{type(self).__name__} is a decoder-only model without cross-attention: "
                             "encoder_hidden_states cannot be used.")
        if inputs_embeds is None:
            inputs_embeds = self.embed_tokens(input_ids)
        hidden_states = inputs_embeds
        past_length = cached_length(past_key_values, cache_position)
        query_length = shape_dim(hidden_states, 1)
        if position_ids is None:
            position_ids = tf.range(past_length, past_length + query_length)[None, :]
        bias = self_attention_bias(hidden_states, attention_mask, past_length, past_key_values, cache_position,
                                   causal=True)
        if self.sliding_window is not None:
            bias = bias + sliding_window_bias(past_length, query_length, shape_dim(bias, -1), self.sliding_window,
                                              bias.dtype)
        rotary = self.rotary(position_ids, hidden_states.dtype)
        stacked = self.layers(hidden_states, context=AttentionContext(bias, rotary),
                              cache=KVCache(past_key_values, cache_position, bool(use_cache)),
                              collect=Collect(bool(output_attentions), bool(output_hidden_states)),
                              training=training)
        last = self.norm(stacked["last_hidden_state"])
        return TFBaseModelOutputWithPastAndCrossAttentions(
            last_hidden_state=last, past_key_values=stacked["past_key_values"],
            hidden_states=stacked["hidden_states"][:-1] + (last,) if output_hidden_states else None,
            attentions=stacked["attentions"],
        )


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
