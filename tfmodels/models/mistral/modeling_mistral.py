"""Mistral: Llama's classes with `MistralConfig` (a sliding attention window); the weight names are the reference's
own `TFMistral` ones."""

from __future__ import annotations

from tfmodels.models.llama.modeling_llama import LLAMA_CLASSES, TFLlamaPreTrainedModel
from tfmodels.models.mistral.configuration_mistral import MistralConfig
from tfmodels.models.registry import alias_classes


class TFMistralPreTrainedModel(TFLlamaPreTrainedModel):
    """Llama's architecture with `MistralConfig`."""

    config_class = MistralConfig


# TFMistralModel, TFMistralForCausalLM, TFMistralForSequenceClassification
globals().update(alias_classes(LLAMA_CLASSES, TFMistralPreTrainedModel, __name__, {"Llama": "Mistral"}))
