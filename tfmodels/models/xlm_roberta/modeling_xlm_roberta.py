"""XLM-RoBERTa: RoBERTa (a multilingual vocabulary) under its own names; the weights keep RoBERTa's (`roberta/...`).

Main diff with RoBERTa: the config class.
"""

from __future__ import annotations

from tfmodels.models.roberta.modeling_roberta import (
    TFRobertaForCausalLM,
    TFRobertaForMaskedLM,
    TFRobertaForMultipleChoice,
    TFRobertaForQuestionAnswering,
    TFRobertaForSequenceClassification,
    TFRobertaForTokenClassification,
    TFRobertaModel,
    TFRobertaPreTrainedModel,
)
from tfmodels.models.xlm_roberta.configuration_xlm_roberta import XLMRobertaConfig


class TFXLMRobertaPreTrainedModel(TFRobertaPreTrainedModel):
    """RoBERTa's architecture with `XLMRobertaConfig`."""

    config_class = XLMRobertaConfig


class TFXLMRobertaModel(TFXLMRobertaPreTrainedModel, TFRobertaModel):
    """The bare XLM-RoBERTa encoder: `last_hidden_state` and `pooler_output`.

    Example:
        >>> model = TFXLMRobertaModel.from_pretrained("xlm-roberta-dir")
        >>> model({"input_ids": ids, "attention_mask": mask}).last_hidden_state
    """


class TFXLMRobertaForMaskedLM(TFXLMRobertaPreTrainedModel, TFRobertaForMaskedLM):
    """XLM-RoBERTa with its `lm_head` (dense, gelu, LayerNorm, decoder tied to the word embeddings, bias).

    Example:
        >>> logits = model(inputs).logits  # [batch, seq, vocab]
    """


class TFXLMRobertaForCausalLM(TFXLMRobertaPreTrainedModel, TFRobertaForCausalLM):
    """XLM-RoBERTa as a decoder (`is_decoder=True`): causal attention, a key/value cache, cross-attention with
    `add_cross_attention=True`, next-token loss and `generate()`.

    Example:
        >>> model = TFXLMRobertaForCausalLM(XLMRobertaConfig(is_decoder=True))
        >>> model.generate(ids, max_new_tokens=8)
    """


class TFXLMRobertaForSequenceClassification(TFXLMRobertaPreTrainedModel, TFRobertaForSequenceClassification):
    """XLM-RoBERTa with a classifier on the first token (`dense`, tanh, `out_proj`); the loss follows
    `config.problem_type`.

    Example:
        >>> model = TFXLMRobertaForSequenceClassification.from_pretrained("xlm-roberta-dir", num_labels=3)
        >>> model(inputs, labels=labels).loss  # per example, shape [batch]
    """


class TFXLMRobertaForTokenClassification(TFXLMRobertaPreTrainedModel, TFRobertaForTokenClassification):
    """XLM-RoBERTa with a per-token classifier (NER, POS); labels of -100 are ignored.

    Example:
        >>> model(inputs).logits  # [batch, seq, num_labels]
    """


class TFXLMRobertaForQuestionAnswering(TFXLMRobertaPreTrainedModel, TFRobertaForQuestionAnswering):
    """XLM-RoBERTa with span start/end classifiers (`qa_outputs`).

    Example:
        >>> out = model(inputs, start_positions=starts, end_positions=ends)  # out.start_logits: [batch, seq]
    """


class TFXLMRobertaForMultipleChoice(TFXLMRobertaPreTrainedModel, TFRobertaForMultipleChoice):
    """XLM-RoBERTa scoring each choice from its pooled output: inputs `[batch, num_choices, seq]`, logits
    `[batch, num_choices]`.

    Example:
        >>> model({"input_ids": ids_3d, "attention_mask": mask_3d}).logits  # [batch, num_choices]
    """
