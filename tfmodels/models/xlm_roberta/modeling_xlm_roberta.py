"""XLM-RoBERTa: RoBERTa (a multilingual vocabulary) under its own names; the weights keep RoBERTa's (`roberta/...`)."""

from __future__ import annotations

from tfmodels.models.registry import alias_classes
from tfmodels.models.roberta.modeling_roberta import ROBERTA_CLASSES, TFRobertaPreTrainedModel
from tfmodels.models.xlm_roberta.configuration_xlm_roberta import XLMRobertaConfig


class TFXLMRobertaPreTrainedModel(TFRobertaPreTrainedModel):
    """RoBERTa's architecture with `XLMRobertaConfig`."""

    config_class = XLMRobertaConfig


# TFXLMRobertaModel, TFXLMRobertaForMaskedLM, TFXLMRobertaForCausalLM, TFXLMRobertaForSequenceClassification,
# TFXLMRobertaForTokenClassification, TFXLMRobertaForQuestionAnswering, TFXLMRobertaForMultipleChoice
globals().update(alias_classes(ROBERTA_CLASSES, TFXLMRobertaPreTrainedModel, __name__,
                               {"Roberta": "XLMRoberta", "RoBERTa": "XLM-RoBERTa"}))
