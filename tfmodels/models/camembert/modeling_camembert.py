"""CamemBERT: RoBERTa (a French vocabulary) under its own names; the weights keep RoBERTa's (`roberta/...`).

Main diff with RoBERTa: the config class.
"""

from __future__ import annotations

from tfmodels.models.camembert.configuration_camembert import CamembertConfig
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


class TFCamembertPreTrainedModel(TFRobertaPreTrainedModel):
    """RoBERTa's architecture with `CamembertConfig`."""

    config_class = CamembertConfig


class TFCamembertModel(TFCamembertPreTrainedModel, TFRobertaModel):
    """The bare CamemBERT encoder: `last_hidden_state` and `pooler_output`.

    Example:
        >>> model = TFCamembertModel.from_pretrained("camembert-dir")
        >>> model({"input_ids": ids, "attention_mask": mask}).last_hidden_state
    """


class TFCamembertForMaskedLM(TFCamembertPreTrainedModel, TFRobertaForMaskedLM):
    """CamemBERT with its `lm_head` (dense, gelu, LayerNorm, decoder tied to the word embeddings, bias).

    Example:
        >>> logits = model(inputs).logits  # [batch, seq, vocab]
    """


class TFCamembertForCausalLM(TFCamembertPreTrainedModel, TFRobertaForCausalLM):
    """CamemBERT as a decoder (`is_decoder=True`): causal attention, a key/value cache, cross-attention with
    `add_cross_attention=True`, next-token loss and `generate()`.

    Example:
        >>> model = TFCamembertForCausalLM(CamembertConfig(is_decoder=True))
        >>> model.generate(ids, max_new_tokens=8)
    """


class TFCamembertForSequenceClassification(TFCamembertPreTrainedModel, TFRobertaForSequenceClassification):
    """CamemBERT with a classifier on the first token (`dense`, tanh, `out_proj`); the loss follows
    `config.problem_type`.

    Example:
        >>> model = TFCamembertForSequenceClassification.from_pretrained("camembert-dir", num_labels=3)
        >>> model(inputs, labels=labels).loss  # per example, shape [batch]
    """


class TFCamembertForTokenClassification(TFCamembertPreTrainedModel, TFRobertaForTokenClassification):
    """CamemBERT with a per-token classifier (NER, POS); labels of -100 are ignored.

    Example:
        >>> model(inputs).logits  # [batch, seq, num_labels]
    """


class TFCamembertForQuestionAnswering(TFCamembertPreTrainedModel, TFRobertaForQuestionAnswering):
    """CamemBERT with span start/end classifiers (`qa_outputs`).

    Example:
        >>> out = model(inputs, start_positions=starts, end_positions=ends)  # out.start_logits: [batch, seq]
    """


class TFCamembertForMultipleChoice(TFCamembertPreTrainedModel, TFRobertaForMultipleChoice):
    """CamemBERT scoring each choice from its pooled output: inputs `[batch, num_choices, seq]`, logits
    `[batch, num_choices]`.

    Example:
        >>> model({"input_ids": ids_3d, "attention_mask": mask_3d}).logits  # [batch, num_choices]
    """
