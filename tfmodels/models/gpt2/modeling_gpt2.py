"""GPT-2: the decoder assembled from the kit (pre-norm layers with fused `c_attn`, under `transformer/h_._{i}`), and
its classes: the bare decoder, the LM head tied to `wte`, the double-heads model and sequence classification."""

from __future__ import annotations

import keras
import tensorflow as tf

from tfmodels.errors import ConfigError
from tfmodels.layers.attention import AttentionContext, KVCache
from tfmodels.layers.core import head_mask_5d, shape_dim
from tfmodels.layers.embeddings import TokenEmbedding
from tfmodels.layers.encoder import cached_length, check_ids_or_embeds, self_attention_bias
from tfmodels.layers.paths import build_at, leaf
from tfmodels.layers.transformer import Collect, GroupedTransformerStack, LayerSpec, transformer_layers
from tfmodels.call_inputs import unpack_inputs
from tfmodels.modeling_outputs import ModelOutput, TFBaseModelOutputWithPastAndCrossAttentions
from tfmodels.models.gpt2.configuration_gpt2 import GPT2Config
from tfmodels.models.gpt2.weights_gpt2 import GPT2_WEIGHTS, DecoderLayout
from tfmodels.tasks import (
    BaseModelTask,
    DoubleHeadsTask,
    LastTokenClassificationTask,
    TaskModel,
    TiedCausalLMTask,
)



def gpt2_layer_spec(config) -> LayerSpec:
    """GPT-2's pre-norm transformer layer with `Conv1D` projections."""
    return LayerSpec(
        hidden_size=config.n_embd, num_heads=config.n_head,
        intermediate_size=config.n_inner if config.n_inner is not None else 4 * config.n_embd,
        activation=config.activation_function, hidden_dropout=config.resid_pdrop, attention_dropout=config.attn_pdrop,
        layer_norm_eps=config.layer_norm_epsilon, initializer_range=config.initializer_range, norm_first=True,
        linear="conv1d", scale_attention=config.scale_attn_weights,
        scale_by_inverse_layer_index=config.scale_attn_by_inverse_layer_idx,
    )


class GPT2Backbone(keras.layers.Layer):
    """The GPT-2 decoder (`transformer` in checkpoints): token and position embeddings (token types are embedded
    with `wte`), the pre-norm layers and the final LayerNorm. The causal and padding biases are computed once per
    pass; `past_key_values` is appended to, or with `cache_position` a preallocated cache written in place.

    Example:
        >>> backbone = GPT2Backbone(GPT2_WEIGHTS.blocks, GPT2Config(n_layer=2), name="transformer")
        >>> backbone(input_ids=ids, use_cache=True)["past_key_values"]
    """

    def __init__(self, layout: DecoderLayout, config: GPT2Config, **kwargs):
        super().__init__(**kwargs)
        if config.add_cross_attention:
            raise ConfigError("GPT-2 with cross-attention (add_cross_attention=True) is not supported; use a config "
                              "with add_cross_attention=False.")
        self.layout, self.hidden_size, self.num_steps = layout, config.n_embd, config.n_layer
        init = config.initializer_range
        self.wte = TokenEmbedding(config.vocab_size, config.n_embd, init, name=leaf(layout.tokens))
        self.wpe = TokenEmbedding(config.n_positions, config.n_embd, init, name=leaf(layout.positions))
        self.drop = keras.layers.Dropout(config.embd_pdrop, name="drop")
        paths = [layout.layer.format(i=i) for i in range(config.n_layer)]
        self.h = GroupedTransformerStack(transformer_layers(gpt2_layer_spec(config), layout.layer_names, paths), paths,
                                         name="h")
        self.ln_f = keras.layers.LayerNormalization(epsilon=config.layer_norm_epsilon, name=leaf(layout.final_norm))

    def build(self, input_shape=None):
        build_at(self.wte, self.layout.tokens)
        build_at(self.wpe, self.layout.positions)
        self.h.build(None)
        build_at(self.ln_f, self.layout.final_norm, (None, None, self.hidden_size))

    @property
    def stack(self) -> GroupedTransformerStack:
        """The transformer layers (`h`)."""
        return self.h

    def get_input_embeddings(self) -> TokenEmbedding:
        """The token embeddings `wte`."""
        return self.wte

    @property
    def max_sequence_length(self) -> int:
        """The longest input (past tokens included) the position table `wpe` covers."""
        return self.wpe.input_dim

    def call(self, input_ids=None, past_key_values=None, attention_mask=None, token_type_ids=None,
             position_ids=None, head_mask=None, inputs_embeds=None, use_cache=False, output_attentions=False,
             output_hidden_states=False, training=False, cache_position=None, encoder_hidden_states=None,
             encoder_attention_mask=None):
        check_ids_or_embeds(input_ids, inputs_embeds)
        if encoder_hidden_states is not None:
            raise ValueError("GPT-2 has no cross-attention: encoder_hidden_states cannot be used.")
        if inputs_embeds is None:
            inputs_embeds = self.wte(input_ids)
        past_length = cached_length(past_key_values, cache_position)
        if position_ids is None:
            position_ids = tf.range(past_length, past_length + shape_dim(inputs_embeds, 1))[None, :]
        hidden_states = inputs_embeds + self.wpe(position_ids)
        if token_type_ids is not None:
            hidden_states = hidden_states + self.wte(token_type_ids)
        hidden_states = self.drop(hidden_states, training=training)
        bias = self_attention_bias(hidden_states, attention_mask, past_length, past_key_values, cache_position,
                                   causal=True)
        stacked = self.h(hidden_states, context=AttentionContext(bias),
                         head_masks=head_mask_5d(head_mask, self.num_steps),
                         cache=KVCache(past_key_values, cache_position, bool(use_cache)),
                         collect=Collect(bool(output_attentions), bool(output_hidden_states)), training=training)
        last = self.ln_f(stacked["last_hidden_state"])
        return TFBaseModelOutputWithPastAndCrossAttentions(
            last_hidden_state=last, past_key_values=stacked["past_key_values"],
            hidden_states=stacked["hidden_states"][:-1] + (last,) if output_hidden_states else None,
            attentions=stacked["attentions"],
        )


class TFGPT2PreTrainedModel(TaskModel):
    """GPT-2's architecture: the `transformer` backbone and its weight table. The classes take the reference's
    inputs in its order; the bare model and the LM also take the cross-attention inputs, refused here (configs with
    `add_cross_attention` are not supported)."""

    config_class = GPT2Config
    base_model_prefix = "transformer"
    weight_table = GPT2_WEIGHTS

    def make_backbone(self, config, add_pooling_layer: bool) -> GPT2Backbone:
        return GPT2Backbone(self.weight_table.blocks, config, name=self.base_model_prefix)

    @property
    def input_signature(self) -> dict[str, tf.TensorSpec]:
        """GPT-2 serves `input_ids` and `attention_mask` only."""
        return {name: tf.TensorSpec([None, None], tf.int32, name=name) for name in ("input_ids", "attention_mask")}


class TFGPT2Model(TFGPT2PreTrainedModel, BaseModelTask):
    """The bare GPT-2 decoder: `last_hidden_state` and, with `use_cache`, `past_key_values` (one
    `[2, batch, heads, seq, head_dim]` tensor per layer). With `cache_position`, `past_key_values` is a
    preallocated cache written from that slot on, and `attention_mask` covers every slot.

    Example:
        >>> out = model({"input_ids": ids}, use_cache=True)
        >>> next_out = model({"input_ids": next_ids}, past_key_values=out.past_key_values)
    """

    @unpack_inputs
    def call(self, input_ids=None, past_key_values=None, attention_mask=None, token_type_ids=None, position_ids=None,
             head_mask=None, inputs_embeds=None, encoder_hidden_states=None, encoder_attention_mask=None,
             use_cache=None, output_attentions=None, output_hidden_states=None, return_dict=None, training=False,
             cache_position=None) -> ModelOutput | tuple:
        return self.run_task(locals())


class TFGPT2LMHeadModel(TFGPT2PreTrainedModel, TiedCausalLMTask):
    """GPT-2 with the language-modelling head, tied to `wte`; with `labels`, the next-token loss (labels are
    shifted inside; -100 is ignored). `generate()` decodes with a preallocated cache (`cache_position`).

    Example:
        >>> logits = model({"input_ids": ids}).logits  # [batch, seq, vocab]
        >>> model.generate(ids, max_new_tokens=20)
    """

    @unpack_inputs
    def call(self, input_ids=None, past_key_values=None, attention_mask=None, token_type_ids=None, position_ids=None,
             head_mask=None, inputs_embeds=None, encoder_hidden_states=None, encoder_attention_mask=None,
             use_cache=None, output_attentions=None, output_hidden_states=None, return_dict=None, labels=None,
             training=False, cache_position=None) -> ModelOutput | tuple:
        return self.run_task(locals())


class TFGPT2DoubleHeadsModel(TFGPT2PreTrainedModel, DoubleHeadsTask):
    """GPT-2 with the tied LM head and a multiple-choice head on the token at `mc_token_ids` of each choice:
    `logits` `[batch, choices, seq, vocab]`, `mc_logits` `[batch, choices]`; `labels` (LM) and `mc_labels` give a
    loss (see `DoubleHeadsTask`).

    Example:
        >>> out = model({"input_ids": ids, "mc_token_ids": cls_positions}, mc_labels=answers)  # ids [b, c, seq]
        >>> out.mc_logits.shape  # (b, c)
    """

    @unpack_inputs
    def call(self, input_ids=None, past_key_values=None, attention_mask=None, token_type_ids=None, position_ids=None,
             head_mask=None, inputs_embeds=None, mc_token_ids=None, use_cache=None, output_attentions=None,
             output_hidden_states=None, return_dict=None, training=False, labels=None,
             mc_labels=None) -> ModelOutput | tuple:
        return self.run_task(locals())

    @property
    def input_signature(self) -> dict[str, tf.TensorSpec]:
        """`input_ids` and `attention_mask` `[batch, choices, seq]`, `mc_token_ids` `[batch, choices]`."""
        return {"input_ids": tf.TensorSpec([None, None, None], tf.int32, name="input_ids"),
                "attention_mask": tf.TensorSpec([None, None, None], tf.int32, name="attention_mask"),
                "mc_token_ids": tf.TensorSpec([None, None], tf.int32, name="mc_token_ids")}

    def make_dummy_inputs(self, batch_size: int = 1, length: int = 2, num_choices: int = 2) -> dict[str, tf.Tensor]:
        """Dummy choices of `length` tokens, each scored at its last token."""
        dummies = super().make_dummy_inputs(batch_size, length, num_choices)
        dummies["mc_token_ids"] = tf.fill([batch_size, num_choices], length - 1)
        return dummies


class TFGPT2ForSequenceClassification(TFGPT2PreTrainedModel, LastTokenClassificationTask):
    """GPT-2 classifying a sequence from its last non-padding token (`config.pad_token_id`; without one, the
    last token).

    Example:
        >>> model = TFGPT2ForSequenceClassification.from_pretrained("gpt2-dir", num_labels=2, pad_token_id=50256)
    """

    @unpack_inputs
    def call(self, input_ids=None, past_key_values=None, attention_mask=None, token_type_ids=None, position_ids=None,
             head_mask=None, inputs_embeds=None, use_cache=None, output_attentions=None, output_hidden_states=None,
             return_dict=None, labels=None, training=False) -> ModelOutput | tuple:
        return self.run_task(locals())
