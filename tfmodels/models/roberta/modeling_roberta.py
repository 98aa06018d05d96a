"""RoBERTa: BERT's backbone with padding-aware positions and the embeddings stored last, and RoBERTa's heads
(`lm_head`, the `classifier/dense` + `classifier/out_proj` sequence classifier). XLM-RoBERTa and CamemBERT reuse
`TFRobertaPreTrainedModel` with their own config."""

from __future__ import annotations

from typing import Any

from tfmodels.layers.encoder import EncoderBackbone
from tfmodels.models.bert.modeling_bert import bert_embedding_spec, bert_layer_spec
from tfmodels.models.roberta.configuration_roberta import RobertaConfig
from tfmodels.models.roberta.weights_roberta import ROBERTA_WEIGHTS
from tfmodels.tasks import (
    DecoderCapableModelTask,
    EncoderCausalLMTask,
    HeadAttribute,
    MaskedLMTask,
    MultipleChoiceTask,
    QuestionAnsweringTask,
    SequenceClassificationTask,
    TaskModel,
    TokenClassificationTask,
)


class TFRobertaPreTrainedModel(TaskModel):
    """RoBERTa's architecture: the `roberta` backbone (positions counted from `pad_token_id + 1`), its weight
    table and its heads' settings."""

    config_class = RobertaConfig
    base_model_prefix = "roberta"
    weight_table = ROBERTA_WEIGHTS
    # The reference's attribute names of this architecture's head layers (`head_layer`).
    lm_head = HeadAttribute()

    def make_backbone(self, config, add_pooling_layer: bool) -> EncoderBackbone:
        return EncoderBackbone(self.weight_table.blocks, bert_embedding_spec(config, padding_idx=config.pad_token_id),
                               bert_layer_spec(config), config.num_hidden_layers, add_pooling_layer,
                               causal=bool(config.is_decoder), initializer_range=config.initializer_range,
                               name=self.base_model_prefix)

    def head_settings(self, task: str) -> dict[str, Any]:
        config = self.config
        init = {"initializer_range": config.initializer_range}
        dropout = config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
        return {
            "masked_lm": {"activation": "gelu", "layer_norm_eps": config.layer_norm_eps, **init},
            "sequence_classification": {"style": "first_token", "activation": "tanh", "dropout": dropout, **init},
            "multiple_choice": {"style": "pooled", "dropout": config.hidden_dropout_prob, **init},
            "token_classification": {"dropout": dropout, **init},
            "question_answering": init,
        }[task]


class TFRobertaModel(TFRobertaPreTrainedModel, DecoderCapableModelTask):
    """The bare RoBERTa encoder: `last_hidden_state` and `pooler_output`.

    Example:
        >>> model = TFRobertaModel.from_pretrained("roberta-dir")
        >>> model({"input_ids": ids, "attention_mask": mask}).last_hidden_state
    """


class TFRobertaForMaskedLM(TFRobertaPreTrainedModel, MaskedLMTask):
    """RoBERTa with its `lm_head` (dense, gelu, LayerNorm, decoder tied to the word embeddings, bias).

    Example:
        >>> logits = model(inputs).logits  # [batch, seq, vocab]
    """


class TFRobertaForCausalLM(TFRobertaPreTrainedModel, EncoderCausalLMTask):
    """RoBERTa as a decoder (`is_decoder=True`): causal attention, a key/value cache, cross-attention with
    `add_cross_attention=True`, next-token loss and `generate()`.

    Example:
        >>> model = TFRobertaForCausalLM(RobertaConfig(is_decoder=True))
        >>> model.generate(ids, max_new_tokens=8)
    """


class TFRobertaForSequenceClassification(TFRobertaPreTrainedModel, SequenceClassificationTask):
    """RoBERTa with a classifier on the first token (`dense`, tanh, `out_proj`); the loss follows
    `config.problem_type`.

    Example:
        >>> model = TFRobertaForSequenceClassification.from_pretrained("roberta-dir", num_labels=3)
        >>> model(inputs, labels=labels).loss  # per example, shape [batch]
    """


class TFRobertaForTokenClassification(TFRobertaPreTrainedModel, TokenClassificationTask):
    """RoBERTa with a per-token classifier (NER, POS); labels of -100 are ignored.

    Example:
        >>> model(inputs).logits  # [batch, seq, num_labels]
    """


class TFRobertaForQuestionAnswering(TFRobertaPreTrainedModel, QuestionAnsweringTask):
    """RoBERTa with span start/end classifiers (`qa_outputs`).

    Example:
        >>> out = model(inputs, start_positions=starts, end_positions=ends)  # out.start_logits: [batch, seq]
    """


class TFRobertaForMultipleChoice(TFRobertaPreTrainedModel, MultipleChoiceTask):
    """RoBERTa scoring each choice from its pooled output: inputs `[batch, num_choices, seq]`, logits
    `[batch, num_choices]`.

    Example:
        >>> model({"input_ids": ids_3d, "attention_mask": mask_3d}).logits  # [batch, num_choices]
    """
