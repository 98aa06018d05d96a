"""Mixtral: Mistral's classes with `MixtralConfig` and a sparse mixture of experts in each layer.

Main diff with Mistral: each layer's feed-forward is a `SparseMoEFeedForward` (router, top-k experts, weights
renormalised); the backbone (`MoEDecoderBackbone`) returns the routers' logits with `output_router_logits`, and
the causal LM adds their load-balancing loss (`MoECausalLMTask`).
"""

from __future__ import annotations

from tfmodels.call_inputs import unpack_inputs
from tfmodels.layers.attention import SelfAttention
from tfmodels.layers.moe import MoEDecoderBackbone, MoEDecoderLayer, SparseMoEFeedForward
from tfmodels.layers.normalization import RMSNorm
from tfmodels.modeling_outputs import ModelOutput
from tfmodels.models.llama.modeling_llama import (
    TFLlamaForSequenceClassification,
    TFLlamaModel,
    TFLlamaPreTrainedModel,
    head_dim_of,
)
from tfmodels.models.mixtral.configuration_mixtral import MixtralConfig
from tfmodels.models.mixtral.weights_mixtral import MIXTRAL_WEIGHTS
from tfmodels.tasks import MoECausalLMTask


class TFMixtralPreTrainedModel(TFLlamaPreTrainedModel):
    """Mixtral's architecture: Mistral's backbone shape with mixture-of-experts layers (`MoEDecoderBackbone`);
    `output_router_logits` defaults to the config's."""

    config_class = MixtralConfig
    weight_table = MIXTRAL_WEIGHTS
    backbone_class = MoEDecoderBackbone

    def make_layer(self, config, index: int, name: str) -> MoEDecoderLayer:
        """RMSNorms, grouped-query attention, the sparse mixture of experts."""
        names = self.weight_table.blocks.layer_names
        attention = SelfAttention(config.hidden_size, config.num_attention_heads, names.attention_projections,
                                  config.attention_dropout, config.initializer_range, head_dim=head_dim_of(config),
                                  num_kv_heads=config.num_key_value_heads, qkv_bias=False, output_bias=False,
                                  name=names.attention)
        moe = SparseMoEFeedForward(config.hidden_size, config.intermediate_size, config.num_local_experts,
                                   config.num_experts_per_tok, config.hidden_act, config.router_jitter_noise,
                                   config.initializer_range, name=names.mlp)
        return MoEDecoderLayer(attention, moe, RMSNorm(config.rms_norm_eps, name=names.input_norm),
                               RMSNorm(config.rms_norm_eps, name=names.post_attention_norm), name=name)

    def encode(self, inputs: dict, training) -> dict:
        if inputs.get("output_router_logits") is None:
            inputs = {**inputs, "output_router_logits": self.config.output_router_logits}
        return super().encode(inputs, training)


class TFMixtralModel(TFMixtralPreTrainedModel, TFLlamaModel):
    """The bare Mixtral decoder: `last_hidden_state` (after the final norm), with `use_cache` `past_key_values`
    (one `[2, batch, kv_heads, seq, head_dim]` tensor per layer), and with `output_router_logits` each layer's
    router logits (`[batch * seq, num_local_experts]`).

    Example:
        >>> out = TFMixtralModel.from_pretrained("mixtral-dir")({"input_ids": ids}, output_router_logits=True)
    """

    @unpack_inputs
    def call(self, input_ids=None, attention_mask=None, position_ids=None, past_key_values=None, inputs_embeds=None,
             use_cache=None, output_attentions=None, output_hidden_states=None, output_router_logits=None,
             return_dict=None, training=False, cache_position=None) -> ModelOutput | tuple:
        return self.run_task(locals())


class TFMixtralForCausalLM(TFMixtralPreTrainedModel, MoECausalLMTask):
    """Mixtral with its language-modelling head; with `labels`, the next-token loss (labels are shifted inside;
    -100 is ignored), plus `router_aux_loss_coef` times the load-balancing `aux_loss` with `output_router_logits`.

    Example:
        >>> model = TFMixtralForCausalLM.from_pretrained("mixtral-dir", dtype="bfloat16")
        >>> model({"input_ids": ids, "labels": ids}, output_router_logits=True).aux_loss
    """

    @unpack_inputs
    def call(self, input_ids=None, attention_mask=None, position_ids=None, past_key_values=None, inputs_embeds=None,
             labels=None, use_cache=None, output_attentions=None, output_hidden_states=None,
             output_router_logits=None, return_dict=None, training=False,
             cache_position=None) -> ModelOutput | tuple:
        return self.run_task(locals())


class TFMixtralForSequenceClassification(TFMixtralPreTrainedModel, TFLlamaForSequenceClassification):
    """Mixtral classifying a sequence from its last non-padding token (`config.pad_token_id`; without one, the last
    token) with `score` (no bias); the loss follows `config.problem_type`.

    Example:
        >>> model = TFMixtralForSequenceClassification.from_pretrained("mixtral-dir", num_labels=2)
    """
