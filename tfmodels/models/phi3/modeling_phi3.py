"""Phi-3: Llama's classes with `Phi3Config` and Phi-3's layers.

Main diff with Llama: one `qkv_proj` for the queries, keys and values (`FusedSelfAttention`) and one `gate_up_proj`
for the feed-forward's gate and up projections (`FusedGatedFeedForward`), computed fused as the checkpoints store
them; LongRoPE scaling and partial rotary positions; each block's output dropped out at `resid_pdrop`.
"""

from __future__ import annotations

from tfmodels.layers.attention import FusedSelfAttention
from tfmodels.layers.decoder_layer import DecoderLayer, FusedGatedFeedForward
from tfmodels.layers.normalization import RMSNorm
from tfmodels.layers.rotary import RotaryEmbedding
from tfmodels.models.llama.modeling_llama import (
    TFLlamaForCausalLM,
    TFLlamaForSequenceClassification,
    TFLlamaModel,
    TFLlamaPreTrainedModel,
)
from tfmodels.models.phi3.configuration_phi3 import Phi3Config
from tfmodels.models.phi3.weights_phi3 import PHI3_WEIGHTS


class TFPhi3PreTrainedModel(TFLlamaPreTrainedModel):
    """Phi-3's architecture: Llama's backbone with Phi-3's layers, rotary tables and weight table."""

    config_class = Phi3Config
    weight_table = PHI3_WEIGHTS

    def make_rotary(self, config) -> RotaryEmbedding:
        """The rotary tables over the rotated part of each head, with LongRoPE's factors when the config has them."""
        head_dim = config.hidden_size // config.num_attention_heads
        scaling = config.rope_scaling
        if scaling is not None:
            scaling = {"original_max_position_embeddings": config.original_max_position_embeddings, **scaling}
        return RotaryEmbedding(int(head_dim * config.partial_rotary_factor), config.rope_theta, scaling,
                               config.max_position_embeddings)

    def make_layer(self, config, index: int, name: str) -> DecoderLayer:
        """RMSNorms, the fused attention and feed-forward, residual dropout."""
        names = self.weight_table.blocks.layer_names
        attention = FusedSelfAttention(config.hidden_size, config.num_attention_heads, names.attention_projections,
                                       config.attention_dropout, config.initializer_range,
                                       num_kv_heads=config.num_key_value_heads, qkv_bias=False, output_bias=False,
                                       name=names.attention)
        mlp = FusedGatedFeedForward(config.hidden_size, config.intermediate_size, config.hidden_act,
                                    config.initializer_range, names.mlp_projections, name=names.mlp)
        return DecoderLayer(attention, mlp, RMSNorm(config.rms_norm_eps, name=names.input_norm),
                            RMSNorm(config.rms_norm_eps, name=names.post_attention_norm), config.resid_pdrop,
                            name=name)


class TFPhi3Model(TFPhi3PreTrainedModel, TFLlamaModel):
    """The bare Phi-3 decoder: `last_hidden_state` (after the final norm) and, with `use_cache`,
    `past_key_values` (one `[2, batch, kv_heads, seq, head_dim]` tensor per layer).

    Example:
        >>> out = TFPhi3Model.from_pretrained("phi3-dir")({"input_ids": ids}, use_cache=True)
    """


class TFPhi3ForCausalLM(TFPhi3PreTrainedModel, TFLlamaForCausalLM):
    """Phi-3 with its language-modelling head; with `labels`, the next-token loss (labels are shifted inside; -100
    is ignored).

    Example:
        >>> model = TFPhi3ForCausalLM.from_pretrained("phi3-dir", dtype="bfloat16")
        >>> model.generate(ids, attention_mask=mask, max_new_tokens=20)
    """


class TFPhi3ForSequenceClassification(TFPhi3PreTrainedModel, TFLlamaForSequenceClassification):
    """Phi-3 classifying a sequence from its last non-padding token (`config.pad_token_id`; without one, the last
    token) with `score` (no bias); the loss follows `config.problem_type`.

    Example:
        >>> model = TFPhi3ForSequenceClassification.from_pretrained("phi3-dir", num_labels=2)
    """
