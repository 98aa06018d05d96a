"""Qwen2: Llama's classes with `Qwen2Config` and biases on the query, key and value projections."""

from __future__ import annotations

from tfmodels.models.llama.modeling_llama import TFLlamaPreTrainedModel, llama_classes
from tfmodels.models.qwen2.configuration_qwen2 import Qwen2Config


class TFQwen2PreTrainedModel(TFLlamaPreTrainedModel):
    """Llama's architecture with `Qwen2Config` and query/key/value biases."""

    config_class = Qwen2Config
    qkv_bias = True


# TFQwen2Model, TFQwen2ForCausalLM, TFQwen2ForSequenceClassification
globals().update(llama_classes("Qwen2", TFQwen2PreTrainedModel, __name__))
