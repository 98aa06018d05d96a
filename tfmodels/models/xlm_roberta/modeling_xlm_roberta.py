"""XLM-RoBERTa: RoBERTa (a multilingual vocabulary) under its own names; the weights keep RoBERTa's (`roberta/...`)."""

from __future__ import annotations

from tfmodels.models.xlm_roberta.configuration_xlm_roberta import XLMRobertaConfig
from tfmodels.models.roberta.modeling_roberta import TFRobertaPreTrainedModel, roberta_classes


class TFXLMRobertaPreTrainedModel(TFRobertaPreTrainedModel):
    """RoBERTa's architecture with `XLMRobertaConfig`."""

    config_class = XLMRobertaConfig


# TFXLMRobertaModel, TFXLMRobertaForMaskedLM, TFXLMRobertaForCausalLM, TFXLMRobertaForSequenceClassification,
# TFXLMRobertaForTokenClassification, TFXLMRobertaForQuestionAnswering, TFXLMRobertaForMultipleChoice
globals().update(roberta_classes("XLMRoberta", "XLM-RoBERTa", TFXLMRobertaPreTrainedModel, __name__))
