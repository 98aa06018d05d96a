"""Qwen3: Llama's classes with `Qwen3Config` and the layers of `DecoderLayer`.

Main diff with Llama: queries and keys are RMS-normalised per head before the rotary positions
(`QKNormSelfAttention`), `head_dim` is the config's, the attention has no biases unless `attention_bias`, and
full-attention and sliding-window layers may mix (`layer_types`).
"""

from __future__ import annotations

from tfmodels.layers.attention import QKNormSelfAttention
from tfmodels.layers.decoder_layer import DecoderLayer, GatedFeedForward
from tfmodels.layers.normalization import RMSNorm
from tfmodels.models.llama.modeling_llama import (
    TFLlamaForCausalLM,
    TFLlamaForSequenceClassification,
    TFLlamaModel,
    TFLlamaPreTrainedModel,
)
from tfmodels.models.qwen3.configuration_qwen3 import Qwen3Config
from tfmodels.models.qwen3.weights_qwen3 import QWEN3_WEIGHTS


class TFQwen3PreTrainedModel(TFLlamaPreTrainedModel):
    """Qwen3's architecture: Llama's backbone with Qwen3's layers and weight table."""

    config_class = Qwen3Config
    weight_table = QWEN3_WEIGHTS

    def make_layer(self, config, index: int, name: str) -> DecoderLayer:
        """RMSNorms, grouped-query attention with per-head q/k norms, a gated SiLU feed-forward."""
        names = self.weight_table.blocks.layer_names

        def rms_norm(norm_name: str) -> RMSNorm:
            return RMSNorm(config.rms_norm_eps, name=norm_name)

        attention = QKNormSelfAttention(
            config.hidden_size, config.num_attention_heads, names.attention_projections, config.attention_dropout,
            config.initializer_range, head_dim=config.head_dim, num_kv_heads=config.num_key_value_heads,
            qkv_bias=config.attention_bias, output_bias=config.attention_bias, make_norm=rms_norm,
            name=names.attention)
        mlp = GatedFeedForward(config.hidden_size, config.intermediate_size, config.hidden_act,
                               initializer_range=config.initializer_range, names=names.mlp_projections, name=names.mlp)
        return DecoderLayer(attention, mlp, rms_norm(names.input_norm), rms_norm(names.post_attention_norm),
                            name=name)


class TFQwen3Model(TFQwen3PreTrainedModel, TFLlamaModel):
    """The bare Qwen3 decoder: `last_hidden_state` (after the final norm) and, with `use_cache`,
    `past_key_values` (one `[2, batch, kv_heads, seq, head_dim]` tensor per layer).

    Example:
        >>> out = TFQwen3Model.from_pretrained("qwen3-dir")({"input_ids": ids}, use_cache=True)
    """


class TFQwen3ForCausalLM(TFQwen3PreTrainedModel, TFLlamaForCausalLM):
    """Qwen3 with its language-modelling head (tied to the token embeddings with `tie_word_embeddings`); with
    `labels`, the next-token loss (labels are shifted inside; -100 is ignored).

    Example:
        >>> model = TFQwen3ForCausalLM.from_pretrained("qwen3-dir", dtype="bfloat16")
        >>> model.generate(ids, attention_mask=mask, max_new_tokens=20)
    """


class TFQwen3ForSequenceClassification(TFQwen3PreTrainedModel, TFLlamaForSequenceClassification):
    """Qwen3 classifying a sequence from its last non-padding token (`config.pad_token_id`; without one, the last
    token) with `score` (no bias); the loss follows `config.problem_type`.

    Example:
        >>> model = TFQwen3ForSequenceClassification.from_pretrained("qwen3-dir", num_labels=2, pad_token_id=0)
    """
