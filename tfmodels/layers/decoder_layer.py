"""The layer of the newer decoder-only families (Qwen3, Gemma 1-3, Phi-3), built from the blocks each family chooses: its
attention (`SelfAttention` or a variant), its feed-forward block and its norms. `DecoderLayer` is Llama's pre-norm
layer; `SandwichDecoderLayer` adds Gemma 2's norms after each block. `DecoderLayerNames` declares the names inside
such a layer, which the families' weight tables give.
"""

from __future__ import annotations

import dataclasses

import keras
import tensorflow as tf

from tfmodels.layers.attention import AttentionContext, AttentionNames, CrossInputs, KVCache, SelfAttention
from tfmodels.layers.core import get_activation, make_linear
from tfmodels.layers.paths import build_at

HF_DECODER_PROJECTIONS = AttentionNames(query="q_proj", key="k_proj", value="v_proj", output="o_proj")


@dataclasses.dataclass(frozen=True)
class DecoderLayerNames:
    """The names inside one decoder layer (each layer sits directly under its parent): the attention block and
    its projections (and per-head norms), the feed-forward block and its gate, up and down projections, and the
    norms: `input_norm` before the attention; `post_attention_norm` before the feed-forward in Llama's layer, after
    the attention in Gemma 2's, which adds `pre_feedforward_norm` and `post_feedforward_norm`.

    Example:
        >>> DecoderLayerNames().mlp_projections
        ('gate_proj', 'up_proj', 'down_proj')
    """

    attention: str = "self_attn"
    attention_projections: AttentionNames = HF_DECODER_PROJECTIONS
    mlp: str = "mlp"
    mlp_projections: tuple[str, str, str] = ("gate_proj", "up_proj", "down_proj")
    input_norm: str = "input_layernorm"
    post_attention_norm: str = "post_attention_layernorm"
    pre_feedforward_norm: str = "pre_feedforward_layernorm"
    post_feedforward_norm: str = "post_feedforward_layernorm"


class GatedFeedForward(keras.layers.Layer):
    """`down(act(gate(x)) * up(x))`: Llama's SwiGLU, Gemma's GeGLU (`activation` by its config name).

    Example:
        >>> mlp = GatedFeedForward(2048, 16384, "gelu_pytorch_tanh", name="mlp")
    """

    def __init__(self, hidden_size: int, intermediate_size: int, activation: str, use_bias: bool = False,
                 initializer_range: float = 0.02, names: tuple[str, str, str] = ("gate_proj", "up_proj", "down_proj"),
                 **kwargs):
        super().__init__(**kwargs)
        self.hidden_size, self.intermediate_size = hidden_size, intermediate_size
        self.activation = get_activation(activation)
        gate, up, down = names
        self.gate_proj = make_linear("dense", intermediate_size, hidden_size, gate, initializer_range, use_bias)
        self.up_proj = make_linear("dense", intermediate_size, hidden_size, up, initializer_range, use_bias)
        self.down_proj = make_linear("dense", hidden_size, intermediate_size, down, initializer_range, use_bias)

    def build(self, input_shape=None):
        for projection in (self.gate_proj, self.up_proj):
            build_at(projection, projection.name, (None, None, self.hidden_size))
        build_at(self.down_proj, self.down_proj.name, (None, None, self.intermediate_size))

    def call(self, hidden_states):
        return self.down_proj(self.activation(self.gate_proj(hidden_states)) * self.up_proj(hidden_states))


class FusedGatedFeedForward(keras.layers.Layer):
    """A gated feed-forward whose gate and up projections are one (Phi-3's `gate_up_proj`: the gate's outputs first):
    `down(act(gate) * up)`.

    Example:
        >>> mlp = FusedGatedFeedForward(3072, 8192, "silu", name="mlp")
    """

    def __init__(self, hidden_size: int, intermediate_size: int, activation: str, initializer_range: float = 0.02,
                 names: tuple[str, str] = ("gate_up_proj", "down_proj"), **kwargs):
        super().__init__(**kwargs)
        self.hidden_size, self.intermediate_size = hidden_size, intermediate_size
        self.activation = get_activation(activation)
        gate_up, down = names
        self.gate_up_proj = make_linear("dense", 2 * intermediate_size, hidden_size, gate_up, initializer_range,
                                        use_bias=False)
        self.down_proj = make_linear("dense", hidden_size, intermediate_size, down, initializer_range, use_bias=False)

    def build(self, input_shape=None):
        build_at(self.gate_up_proj, self.gate_up_proj.name, (None, None, self.hidden_size))
        build_at(self.down_proj, self.down_proj.name, (None, None, self.intermediate_size))

    def call(self, hidden_states):
        gate, up = tf.split(self.gate_up_proj(hidden_states), 2, axis=-1)
        return self.down_proj(up * self.activation(gate))


class DecoderLayer(keras.layers.Layer):
    """Llama's pre-norm layer with the family's blocks: `x + attention(input_layernorm(x))`, then
    `x + mlp(post_attention_layernorm(x))`, each block's output dropped out at `residual_dropout` while training
    (Phi-3's `resid_pdrop`). Each block is named as in the checkpoints; the call is the stack's (`TransformerStack`),
    without cross-attention.

    Example:
        >>> layer = DecoderLayer(attention, GatedFeedForward(64, 172, "silu", name="mlp"),
        ...                      RMSNorm(1e-6, name="input_layernorm"), RMSNorm(1e-6, name="post_attention_layernorm"),
        ...                      name="layers.0")
    """

    def __init__(self, attention: SelfAttention, mlp: keras.layers.Layer, input_layernorm: keras.layers.Layer,
                 post_attention_layernorm: keras.layers.Layer, residual_dropout: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.attention, self.mlp = attention, mlp  # attribute order is the checkpoints' variable order
        self.input_layernorm, self.post_attention_layernorm = input_layernorm, post_attention_layernorm
        self.hidden_size = attention.hidden_size
        self.dropout = keras.layers.Dropout(residual_dropout, name="dropout")

    def norms(self) -> list[keras.layers.Layer]:
        """The layer's norms, in variable order."""
        return [self.input_layernorm, self.post_attention_layernorm]

    def build(self, input_shape=None):
        hidden = (None, None, self.hidden_size)
        build_at(self.attention, self.attention.name)
        build_at(self.mlp, self.mlp.name, hidden)
        for norm in self.norms():
            build_at(norm, norm.name, hidden)

    def attend(self, hidden_states, context: AttentionContext, head_mask, cache: KVCache | None,
               cross: CrossInputs | None, training) -> tuple:
        """The attention block on the input norm's output: `(output, present, probabilities)`. There is no
        cross-attention: `cross` must be None."""
        if cross is not None:
            raise ValueError(f"{type(self).__name__} has no cross-attention; received encoder inputs.")
        return self.attention(self.input_layernorm(hidden_states), context=context, head_mask=head_mask, cache=cache,
                              training=training)

    def call(self, hidden_states, context: AttentionContext = AttentionContext(), head_mask=None,
             cache: KVCache | None = None, cross: CrossInputs | None = None, training=False):
        """Returns `(hidden_states, present, attention probabilities, None)`; `cross` must be None."""
        output, present, probs = self.attend(hidden_states, context, head_mask, cache, cross, training)
        hidden_states = hidden_states + self.dropout(output, training=training)
        output = self.mlp(self.post_attention_layernorm(hidden_states))
        return hidden_states + self.dropout(output, training=training), present, probs, None


class SandwichDecoderLayer(DecoderLayer):
    """Gemma 2's layer: a norm before and after each block,
    `x + post_attention_layernorm(attention(input_layernorm(x)))`, then
    `x + post_feedforward_layernorm(mlp(pre_feedforward_layernorm(x)))`.

    Example:
        >>> layer = SandwichDecoderLayer(attention, mlp, *[GemmaRMSNorm(1e-6, name=n) for n in (
        ...     "input_layernorm", "post_attention_layernorm", "pre_feedforward_layernorm",
        ...     "post_feedforward_layernorm")], name="layers.0")
    """

    def __init__(self, attention: SelfAttention, mlp: keras.layers.Layer, input_layernorm: keras.layers.Layer,
                 post_attention_layernorm: keras.layers.Layer, pre_feedforward_layernorm: keras.layers.Layer,
                 post_feedforward_layernorm: keras.layers.Layer, **kwargs):
        super().__init__(attention, mlp, input_layernorm, post_attention_layernorm, **kwargs)
        self.pre_feedforward_layernorm = pre_feedforward_layernorm
        self.post_feedforward_layernorm = post_feedforward_layernorm

    def norms(self) -> list[keras.layers.Layer]:
        return [*super().norms(), self.pre_feedforward_layernorm, self.post_feedforward_layernorm]

    def call(self, hidden_states, context: AttentionContext = AttentionContext(), head_mask=None,
             cache: KVCache | None = None, cross: CrossInputs | None = None, training=False):
        output, present, probs = self.attend(hidden_states, context, head_mask, cache, cross, training)
        hidden_states = hidden_states + self.post_attention_layernorm(output)
        output = self.mlp(self.pre_feedforward_layernorm(hidden_states))
        return hidden_states + self.post_feedforward_layernorm(output), present, probs, None
