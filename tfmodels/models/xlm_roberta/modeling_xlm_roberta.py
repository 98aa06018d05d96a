"""XLM-RoBERTa: RoBERTa (a multilingual vocabulary) under its own names; the weights keep RoBERTa's (`roberta/...`)."""

from __future__ import annotations

from tfmodels.models.roberta.modeling_roberta import TFRobertaPreTrainedModel
from tfmodels.models.xlm_roberta.configuration_xlm_roberta import XLMRobertaConfig
from tfmodels.tasks import (
    BaseModelTask,
    CausalLMTask,
    MaskedLMTask,
    MultipleChoiceTask,
    QuestionAnsweringTask,
    SequenceClassificationTask,
    TokenClassificationTask,
)


class TFXLMRobertaPreTrainedModel(TFRobertaPreTrainedModel):
    """RoBERTa's architecture with `XLMRobertaConfig`."""

    config_class = XLMRobertaConfig


class TFXLMRobertaModel(TFXLMRobertaPreTrainedModel, BaseModelTask):
    """The bare XLM-RoBERTa encoder: `last_hidden_state` and `pooler_output`.

    Example:
        >>> TFXLMRobertaModel.from_pretrained("xlm-roberta-base")({"input_ids": ids}).last_hidden_state
    """


class TFXLMRobertaForMaskedLM(TFXLMRobertaPreTrainedModel, MaskedLMTask):
    """XLM-RoBERTa with RoBERTa's `lm_head` (decoder tied to the word embeddings).

    Example:
        >>> model = TFXLMRobertaForMaskedLM.from_pretrained("xlm-roberta-base")
        >>> model({"input_ids": ids}).logits  # [batch, seq, vocab]
    """


class TFXLMRobertaForCausalLM(TFXLMRobertaPreTrainedModel, CausalLMTask):
    """XLM-RoBERTa as a decoder (`is_decoder=True`), with `generate()`.

    Example:
        >>> TFXLMRobertaForCausalLM(XLMRobertaConfig(is_decoder=True)).generate(ids, max_new_tokens=8)
    """


class TFXLMRobertaForSequenceClassification(TFXLMRobertaPreTrainedModel, SequenceClassificationTask):
    """XLM-RoBERTa with RoBERTa's first-token classifier (`classifier/dense`, tanh, `classifier/out_proj`).

    Example:
        >>> TFXLMRobertaForSequenceClassification.from_pretrained("xlm-roberta-base", num_labels=3)(inputs).logits
    """


class TFXLMRobertaForTokenClassification(TFXLMRobertaPreTrainedModel, TokenClassificationTask):
    """XLM-RoBERTa with a per-token classifier; labels of -100 are ignored.

    Example:
        >>> TFXLMRobertaForTokenClassification.from_pretrained("xlm-roberta-base", num_labels=9)(inputs).logits
    """


class TFXLMRobertaForQuestionAnswering(TFXLMRobertaPreTrainedModel, QuestionAnsweringTask):
    """XLM-RoBERTa with span start/end classifiers (`qa_outputs`).

    Example:
        >>> TFXLMRobertaForQuestionAnswering.from_pretrained("xlm-roberta-base")(inputs).start_logits  # [batch, seq]
    """


class TFXLMRobertaForMultipleChoice(TFXLMRobertaPreTrainedModel, MultipleChoiceTask):
    """XLM-RoBERTa scoring each choice from its pooled output: inputs `[batch, num_choices, seq]`.

    Example:
        >>> TFXLMRobertaForMultipleChoice.from_pretrained("xlm-roberta-base")({"input_ids": ids_3d}).logits
    """
