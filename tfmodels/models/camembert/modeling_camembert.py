"""CamemBERT: RoBERTa (a French vocabulary) under its own names; the weights keep RoBERTa's (`roberta/...`)."""

from __future__ import annotations

from tfmodels.models.camembert.configuration_camembert import CamembertConfig
from tfmodels.models.roberta.modeling_roberta import TFRobertaPreTrainedModel, roberta_classes


class TFCamembertPreTrainedModel(TFRobertaPreTrainedModel):
    """RoBERTa's architecture with `CamembertConfig`."""

    config_class = CamembertConfig


# TFCamembertModel, TFCamembertForMaskedLM, TFCamembertForCausalLM, TFCamembertForSequenceClassification,
# TFCamembertForTokenClassification, TFCamembertForQuestionAnswering, TFCamembertForMultipleChoice
globals().update(roberta_classes("Camembert", "CamemBERT", TFCamembertPreTrainedModel, __name__))
