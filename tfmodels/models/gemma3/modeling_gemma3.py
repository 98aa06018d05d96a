"""Gemma 3 (text): Gemma 2's classes with `Gemma3TextConfig`.

Main diff with Gemma 2: queries and keys are normalised per head (`QKNormSelfAttention` with `GemmaRMSNorm`),
the sliding-window layers have a rotary base of their own (`rope_local_base_freq`; the full-attention layers use
`rope_theta` and `rope_scaling`), the sliding pattern is the config's, and the attention scores are not capped
(as the reference).
"""

from __future__ import annotations

from tfmodels.layers.attention import QKNormSelfAttention
from tfmodels.layers.decoder import AttentionKind
from tfmodels.layers.decoder_layer import DecoderLayerNames
from tfmodels.layers.normalization import GemmaRMSNorm
from tfmodels.layers.rotary import RotaryEmbedding
from tfmodels.models.gemma2.modeling_gemma2 import (
    TFGemma2ForCausalLM,
    TFGemma2ForSequenceClassification,
    TFGemma2Model,
    TFGemma2PreTrainedModel,
)
from tfmodels.models.gemma3.configuration_gemma3 import Gemma3TextConfig


class TFGemma3TextPreTrainedModel(TFGemma2PreTrainedModel):
    """Gemma 3's text architecture: Gemma 2's, with q/k norms and local/global rotary bases."""

    config_class = Gemma3TextConfig

    def attention_kinds(self, config) -> dict[str, AttentionKind]:
        """Full-attention layers: `rope_theta` with `rope_scaling`; sliding ones: `rope_local_base_freq`."""
        positions = config.max_position_embeddings
        return {
            "full_attention": AttentionKind(RotaryEmbedding(config.head_dim, config.rope_theta, config.rope_scaling,
                                                            positions)),
            "sliding_attention": AttentionKind(RotaryEmbedding(config.head_dim, config.rope_local_base_freq, None,
                                                               positions), config.sliding_window),
        }

    def make_attention(self, config, names: DecoderLayerNames) -> QKNormSelfAttention:
        """Self-attention with Gemma's norms on each head's queries and keys, scaled by
        `query_pre_attn_scalar ** -0.5`."""
        return QKNormSelfAttention(
            config.hidden_size, config.num_attention_heads, names.attention_projections, config.attention_dropout,
            config.initializer_range, scale=config.query_pre_attn_scalar ** -0.5, head_dim=config.head_dim,
            num_kv_heads=config.num_key_value_heads, qkv_bias=config.attention_bias,
            output_bias=config.attention_bias,
            make_norm=lambda norm: GemmaRMSNorm(config.rms_norm_eps, name=norm), name=names.attention)


class TFGemma3TextModel(TFGemma3TextPreTrainedModel, TFGemma2Model):
    """The bare Gemma 3 text decoder: `last_hidden_state` (after the final norm) and, with `use_cache`,
    `past_key_values` (one `[2, batch, kv_heads, seq, head_dim]` tensor per layer).

    Example:
        >>> out = TFGemma3TextModel.from_pretrained("gemma3-dir")({"input_ids": ids}, use_cache=True)
    """


class TFGemma3ForCausalLM(TFGemma3TextPreTrainedModel, TFGemma2ForCausalLM):
    """Gemma 3's text model with its language-modelling head (logits capped when the config has a
    `final_logit_softcapping`); with `labels`, the next-token loss (labels are shifted inside; -100 is ignored).

    Example:
        >>> model = TFGemma3ForCausalLM.from_pretrained("gemma-3-1b-dir", dtype="bfloat16")
        >>> model.generate(ids, attention_mask=mask, max_new_tokens=20)
    """


class TFGemma3TextForSequenceClassification(TFGemma3TextPreTrainedModel, TFGemma2ForSequenceClassification):
    """Gemma 3's text model classifying a sequence from its last non-padding token (`config.pad_token_id`) with
    `score` (no bias); the loss follows `config.problem_type`.

    Example:
        >>> model = TFGemma3TextForSequenceClassification.from_pretrained("gemma3-dir", num_labels=2)
    """
