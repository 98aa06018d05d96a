"""Qwen2: Llama's classes with `Qwen2Config` and biases on the query, key and value projections."""

from __future__ import annotations

from tfmodels.models.llama.modeling_llama import LLAMA_CLASSES, TFLlamaPreTrainedModel
from tfmodels.models.qwen2.configuration_qwen2 import Qwen2Config
from tfmodels.models.registry import alias_classes


class TFQwen2PreTrainedModel(TFLlamaPreTrainedModel):
    """Llama's architecture with `Qwen2Config` and query/key/value biases."""

    config_class = Qwen2Config
    qkv_bias = True


# TFQwen2Model, TFQwen2ForCausalLM, TFQwen2ForSequenceClassification
globals().update(alias_classes(LLAMA_CLASSES, TFQwen2PreTrainedModel, __name__, {"Llama": "Qwen2"}))
