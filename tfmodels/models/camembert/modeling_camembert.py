"""CamemBERT: RoBERTa (a French vocabulary) under its own names; the weights keep RoBERTa's (`roberta/...`)."""

from __future__ import annotations

from tfmodels.models.camembert.configuration_camembert import CamembertConfig
from tfmodels.models.roberta.modeling_roberta import TFRobertaPreTrainedModel
from tfmodels.tasks import (
    BaseModelTask,
    CausalLMTask,
    MaskedLMTask,
    MultipleChoiceTask,
    QuestionAnsweringTask,
    SequenceClassificationTask,
    TokenClassificationTask,
)


class TFCamembertPreTrainedModel(TFRobertaPreTrainedModel):
    """RoBERTa's architecture with `CamembertConfig`."""

    config_class = CamembertConfig


class TFCamembertModel(TFCamembertPreTrainedModel, BaseModelTask):
    """The bare CamemBERT encoder: `last_hidden_state` and `pooler_output`.

    Example:
        >>> TFCamembertModel.from_pretrained("camembert-base")({"input_ids": ids}).last_hidden_state
    """


class TFCamembertForMaskedLM(TFCamembertPreTrainedModel, MaskedLMTask):
    """CamemBERT with RoBERTa's `lm_head` (decoder tied to the word embeddings).

    Example:
        >>> model = TFCamembertForMaskedLM.from_pretrained("camembert-base")
        >>> model({"input_ids": ids}).logits  # [batch, seq, vocab]
    """


class TFCamembertForCausalLM(TFCamembertPreTrainedModel, CausalLMTask):
    """CamemBERT as a decoder (`is_decoder=True`), with `generate()`.

    Example:
        >>> TFCamembertForCausalLM(CamembertConfig(is_decoder=True)).generate(ids, max_new_tokens=8)
    """


class TFCamembertForSequenceClassification(TFCamembertPreTrainedModel, SequenceClassificationTask):
    """CamemBERT with RoBERTa's first-token classifier (`classifier/dense`, tanh, `classifier/out_proj`).

    Example:
        >>> TFCamembertForSequenceClassification.from_pretrained("camembert-base", num_labels=3)(inputs).logits
    """


class TFCamembertForTokenClassification(TFCamembertPreTrainedModel, TokenClassificationTask):
    """CamemBERT with a per-token classifier; labels of -100 are ignored.

    Example:
        >>> TFCamembertForTokenClassification.from_pretrained("camembert-base", num_labels=9)(inputs).logits
    """


class TFCamembertForQuestionAnswering(TFCamembertPreTrainedModel, QuestionAnsweringTask):
    """CamemBERT with span start/end classifiers (`qa_outputs`).

    Example:
        >>> TFCamembertForQuestionAnswering.from_pretrained("camembert-base")(inputs).start_logits  # [batch, seq]
    """


class TFCamembertForMultipleChoice(TFCamembertPreTrainedModel, MultipleChoiceTask):
    """CamemBERT scoring each choice from its pooled output: inputs `[batch, num_choices, seq]`.

    Example:
        >>> TFCamembertForMultipleChoice.from_pretrained("camembert-base")({"input_ids": ids_3d}).logits
    """
