"""Gemma 2: Gemma's classes with `Gemma2Config` and Gemma 2's layer.

Main diff with Gemma: a norm before and after each block (`SandwichDecoderLayer`), attention scores scaled by
`query_pre_attn_scalar ** -0.5` and capped to `attn_logit_softcapping` (`SoftCappedSelfAttention`), the LM's logits
capped to `final_logit_softcapping` (`SoftCappedLMHead`), sliding-window and full-attention layers alternating
(`layer_types`), and the feed-forward's activation read from `hidden_activation`.
"""

from __future__ import annotations

from tfmodels.layers.attention import SelfAttention, SoftCappedSelfAttention
from tfmodels.layers.decoder import SoftCappedLMHead
from tfmodels.layers.decoder_layer import DecoderLayerNames, SandwichDecoderLayer
from tfmodels.layers.normalization import GemmaRMSNorm
from tfmodels.models.gemma.modeling_gemma import (
    TFGemmaForCausalLM,
    TFGemmaForSequenceClassification,
    TFGemmaModel,
    TFGemmaPreTrainedModel,
)
from tfmodels.models.gemma2.configuration_gemma2 import Gemma2Config


class TFGemma2PreTrainedModel(TFGemmaPreTrainedModel):
    """Gemma 2's architecture: Gemma's, with Gemma 2's layer and attention."""

    config_class = Gemma2Config

    def make_attention(self, config, names: DecoderLayerNames) -> SelfAttention:
        """Self-attention scaled by `query_pre_attn_scalar ** -0.5`, its scores capped when the config says."""
        arguments = dict(scale=config.query_pre_attn_scalar ** -0.5, head_dim=config.head_dim,
                         num_kv_heads=config.num_key_value_heads, qkv_bias=config.attention_bias,
                         output_bias=config.attention_bias, name=names.attention)
        sizes = (config.hidden_size, config.num_attention_heads, names.attention_projections,
                 config.attention_dropout, config.initializer_range)
        if config.attn_logit_softcapping is None:
            return SelfAttention(*sizes, **arguments)
        return SoftCappedSelfAttention(*sizes, softcap=config.attn_logit_softcapping, **arguments)

    def make_layer(self, config, index: int, name: str) -> SandwichDecoderLayer:
        """Norms before and after the attention and the feed-forward."""
        names = self.weight_table.blocks.layer_names
        norms = [GemmaRMSNorm(config.rms_norm_eps, name=norm) for norm in (
            names.input_norm, names.post_attention_norm, names.pre_feedforward_norm, names.post_feedforward_norm)]
        return SandwichDecoderLayer(self.make_attention(config, names),
                                    self.make_mlp(config, names, config.hidden_activation), *norms, name=name)


class TFGemma2Model(TFGemma2PreTrainedModel, TFGemmaModel):
    """The bare Gemma 2 decoder: `last_hidden_state` (after the final norm) and, with `use_cache`,
    `past_key_values` (one `[2, batch, kv_heads, seq, head_dim]` tensor per layer; sliding-window layers keep
    every position and mask the ones outside their window).

    Example:
        >>> out = TFGemma2Model.from_pretrained("gemma2-dir")({"input_ids": ids}, use_cache=True)
    """


class TFGemma2ForCausalLM(TFGemma2PreTrainedModel, TFGemmaForCausalLM):
    """Gemma 2 with its language-modelling head, whose logits are capped to `final_logit_softcapping` (before the
    loss and in generation, as the reference); with `labels`, the next-token loss (labels are shifted inside; -100
    is ignored).

    Example:
        >>> model = TFGemma2ForCausalLM.from_pretrained("gemma2-dir", dtype="bfloat16")
        >>> model.generate(ids, attention_mask=mask, max_new_tokens=20)
    """

    def make_heads(self, config) -> None:
        if config.final_logit_softcapping is None:
            return super().make_heads(config)
        tied = self.backbone.get_input_embeddings() if config.tie_word_embeddings else None
        self.lm_head_layer = SoftCappedLMHead(config.vocab_size, config.hidden_size,
                                              self.head_paths("causal_lm")["lm_head"], tied, config.initializer_range,
                                              softcap=config.final_logit_softcapping, name="lm_head_layer")


class TFGemma2ForSequenceClassification(TFGemma2PreTrainedModel, TFGemmaForSequenceClassification):
    """Gemma 2 classifying a sequence from its last non-padding token (`config.pad_token_id`; without one, the last
    token) with `score` (no bias, no soft-capping); the loss follows `config.problem_type`.

    Example:
        >>> model = TFGemma2ForSequenceClassification.from_pretrained("gemma2-dir", num_labels=2)
    """
