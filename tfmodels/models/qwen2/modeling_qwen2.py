"""Qwen2: Llama's classes with `Qwen2Config` and biases on the query, key and value projections.

Main diff with Llama: `qkv_bias = True`, and the config's `layer_types` / `use_sliding_window` (read by
`layer_kinds`: full-attention and sliding-window layers may mix).
"""

from __future__ import annotations

from tfmodels.models.llama.modeling_llama import (
    TFLlamaForCausalLM,
    TFLlamaForSequenceClassification,
    TFLlamaModel,
    TFLlamaPreTrainedModel,
)
from tfmodels.models.qwen2.configuration_qwen2 import Qwen2Config


class TFQwen2PreTrainedModel(TFLlamaPreTrainedModel):
    """Llama's architecture with `Qwen2Config` and query/key/value biases."""

    config_class = Qwen2Config
    qkv_bias = True


class TFQwen2Model(TFQwen2PreTrainedModel, TFLlamaModel):
    """The bare Qwen2 decoder: `last_hidden_state` (after the final norm) and, with `use_cache`,
    `past_key_values` (one `[2, batch, kv_heads, seq, head_dim]` tensor per layer).

    Example:
        >>> out = TFQwen2Model.from_pretrained("qwen2-dir")({"input_ids": ids}, use_cache=True)
    """


class TFQwen2ForCausalLM(TFQwen2PreTrainedModel, TFLlamaForCausalLM):
    """Qwen2 with its language-modelling head (tied to the token embeddings with `tie_word_embeddings`); with
    `labels`, the next-token loss (labels are shifted inside; -100 is ignored).

    Example:
        >>> model = TFQwen2ForCausalLM.from_pretrained("qwen2-dir", dtype="bfloat16")
        >>> model.generate(ids, attention_mask=mask, max_new_tokens=20)
    """


class TFQwen2ForSequenceClassification(TFQwen2PreTrainedModel, TFLlamaForSequenceClassification):
    """Qwen2 classifying a sequence from its last non-padding token (`config.pad_token_id`; without one, the last
    token) with `score` (no bias); the loss follows `config.problem_type`.

    Example:
        >>> model = TFQwen2ForSequenceClassification.from_pretrained("qwen2-dir", num_labels=2, pad_token_id=0)
    """
