"""Mistral: Llama's classes with `MistralConfig` (a sliding attention window); the weight names are the reference's
own `TFMistral` ones."""

from __future__ import annotations

from tfmodels.models.llama.modeling_llama import TFLlamaPreTrainedModel, llama_classes
from tfmodels.models.mistral.configuration_mistral import MistralConfig


class TFMistralPreTrainedModel(TFLlamaPreTrainedModel):
    """Llama's architecture with `MistralConfig`."""

    config_class = MistralConfig


# TFMistralModel, TFMistralForCausalLM, TFMistralForSequenceClassification
globals().update(llama_classes("Mistral", TFMistralPreTrainedModel, __name__))
