"""CamemBERT: RoBERTa (a French vocabulary) under its own names; the weights keep RoBERTa's (`roberta/...`)."""

from __future__ import annotations

from tfmodels.models.camembert.configuration_camembert import CamembertConfig
from tfmodels.models.registry import alias_classes
from tfmodels.models.roberta.modeling_roberta import ROBERTA_CLASSES, TFRobertaPreTrainedModel


class TFCamembertPreTrainedModel(TFRobertaPreTrainedModel):
    """RoBERTa's architecture with `CamembertConfig`."""

    config_class = CamembertConfig


# TFCamembertModel, TFCamembertForMaskedLM, TFCamembertForCausalLM, TFCamembertForSequenceClassification,
# TFCamembertForTokenClassification, TFCamembertForQuestionAnswering, TFCamembertForMultipleChoice
globals().update(alias_classes(ROBERTA_CLASSES, TFCamembertPreTrainedModel, __name__,
                               {"Roberta": "Camembert", "RoBERTa": "CamemBERT"}))
