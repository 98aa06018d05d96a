"""Mistral: Llama's classes with `MistralConfig` (a sliding attention window); the weight names are the reference's
own `TFMistral` ones.

Main diff with Llama: the config, whose `sliding_window` the Llama backbone already reads (`layer_kinds`).
"""

from __future__ import annotations

from tfmodels.models.llama.modeling_llama import (
    TFLlamaForCausalLM,
    TFLlamaForSequenceClassification,
    TFLlamaModel,
    TFLlamaPreTrainedModel,
)
from tfmodels.models.mistral.configuration_mistral import MistralConfig


class TFMistralPreTrainedModel(TFLlamaPreTrainedModel):
    """Llama's architecture with `MistralConfig`."""

    config_class = MistralConfig


class TFMistralModel(TFMistralPreTrainedModel, TFLlamaModel):
    """The bare Mistral decoder: `last_hidden_state` (after the final norm) and, with `use_cache`,
    `past_key_values` (one `[2, batch, kv_heads, seq, head_dim]` tensor per layer); attention looks back at most
    `config.sliding_window` tokens.

    Example:
        >>> out = TFMistralModel.from_pretrained("mistral-dir")({"input_ids": ids}, use_cache=True)
    """


class TFMistralForCausalLM(TFMistralPreTrainedModel, TFLlamaForCausalLM):
    """Mistral with its language-modelling head; with `labels`, the next-token loss (labels are shifted inside;
    -100 is ignored). `generate()` decodes with a preallocated grouped-query cache.

    Example:
        >>> model = TFMistralForCausalLM.from_pretrained("mistral-dir", dtype="bfloat16")
        >>> model.generate(ids, attention_mask=mask, max_new_tokens=20)
    """


class TFMistralForSequenceClassification(TFMistralPreTrainedModel, TFLlamaForSequenceClassification):
    """Mistral classifying a sequence from its last non-padding token (`config.pad_token_id`; without one, the
    last token) with `score` (no bias); the loss follows `config.problem_type`.

    Example:
        >>> model = TFMistralForSequenceClassification.from_pretrained("mistral-dir", num_labels=2, pad_token_id=0)
    """
