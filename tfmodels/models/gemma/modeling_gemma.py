"""Gemma: Llama's classes with Gemma's blocks. Gemma 2 and Gemma 3 subclass these, each changing the layer.

Main diff with Llama: the token embeddings are multiplied by `sqrt(hidden_size)` (`ScaledTokenEmbedding`), the
norms scale by `1 + weight` in float32 (`GemmaRMSNorm`), the feed-forward is GeGLU (`hidden_act`), `head_dim` is
the config's, and the LM head is tied to the embeddings by default.
"""

from __future__ import annotations

from tfmodels.layers.attention import SelfAttention
from tfmodels.layers.decoder_layer import DecoderLayer, DecoderLayerNames, GatedFeedForward
from tfmodels.layers.embeddings import ScaledTokenEmbedding
from tfmodels.layers.normalization import GemmaRMSNorm
from tfmodels.layers.paths import leaf
from tfmodels.models.gemma.configuration_gemma import GemmaConfig
from tfmodels.models.gemma.weights_gemma import GEMMA_WEIGHTS
from tfmodels.models.llama.modeling_llama import (
    TFLlamaForCausalLM,
    TFLlamaForSequenceClassification,
    TFLlamaModel,
    TFLlamaPreTrainedModel,
)


class TFGemmaPreTrainedModel(TFLlamaPreTrainedModel):
    """Gemma's architecture: Llama's backbone with scaled embeddings, Gemma's norms and layers. Gemma 2 and Gemma 3
    override `make_layer` and `make_attention`, Gemma 3 also `attention_kinds`."""

    config_class = GemmaConfig
    weight_table = GEMMA_WEIGHTS

    def make_embeddings(self, config) -> ScaledTokenEmbedding:
        """The token embeddings, times `sqrt(hidden_size)`."""
        return ScaledTokenEmbedding(config.vocab_size, config.hidden_size, config.hidden_size ** 0.5,
                                    config.initializer_range, name=leaf(self.weight_table.blocks.tokens))

    def make_final_norm(self, config) -> GemmaRMSNorm:
        """Gemma's norm after the last layer."""
        return GemmaRMSNorm(config.rms_norm_eps, name=leaf(self.weight_table.blocks.final_norm))

    def make_attention(self, config, names: DecoderLayerNames) -> SelfAttention:
        """Grouped-query self-attention scaled by `head_dim ** -0.5`."""
        return SelfAttention(config.hidden_size, config.num_attention_heads, names.attention_projections,
                             config.attention_dropout, config.initializer_range, head_dim=config.head_dim,
                             num_kv_heads=config.num_key_value_heads, qkv_bias=config.attention_bias,
                             output_bias=config.attention_bias, name=names.attention)

    def make_mlp(self, config, names: DecoderLayerNames, activation: str) -> GatedFeedForward:
        """The GeGLU feed-forward."""
        return GatedFeedForward(config.hidden_size, config.intermediate_size, activation,
                                initializer_range=config.initializer_range, names=names.mlp_projections,
                                name=names.mlp)

    def make_layer(self, config, index: int, name: str) -> DecoderLayer:
        """Llama's pre-norm layer with Gemma's blocks."""
        names = self.weight_table.blocks.layer_names
        return DecoderLayer(self.make_attention(config, names), self.make_mlp(config, names, config.hidden_act),
                            GemmaRMSNorm(config.rms_norm_eps, name=names.input_norm),
                            GemmaRMSNorm(config.rms_norm_eps, name=names.post_attention_norm), name=name)


class TFGemmaModel(TFGemmaPreTrainedModel, TFLlamaModel):
    """The bare Gemma decoder: `last_hidden_state` (after the final norm) and, with `use_cache`,
    `past_key_values` (one `[2, batch, kv_heads, seq, head_dim]` tensor per layer).

    Example:
        >>> out = TFGemmaModel.from_pretrained("gemma-dir")({"input_ids": ids}, use_cache=True)
    """


class TFGemmaForCausalLM(TFGemmaPreTrainedModel, TFLlamaForCausalLM):
    """Gemma with its language-modelling head (the token embeddings' transpose unless `tie_word_embeddings=False`);
    with `labels`, the next-token loss (labels are shifted inside; -100 is ignored).

    Example:
        >>> model = TFGemmaForCausalLM.from_pretrained("gemma-dir", dtype="bfloat16")
        >>> model.generate(ids, attention_mask=mask, max_new_tokens=20)
    """


class TFGemmaForSequenceClassification(TFGemmaPreTrainedModel, TFLlamaForSequenceClassification):
    """Gemma classifying a sequence from its last non-padding token (`config.pad_token_id`; without one, the last
    token) with `score` (no bias); the loss follows `config.problem_type`.

    Example:
        >>> model = TFGemmaForSequenceClassification.from_pretrained("gemma-dir", num_labels=2)
    """
