"""BERT: the backbone assembled from the kit, and its classes (a shared head each)."""

from __future__ import annotations

from typing import Any

from tfmodels.errors import ConfigError
from tfmodels.layers.encoder import EmbeddingSpec, EncoderBackbone
from tfmodels.layers.transformer import LayerSpec
from tfmodels.models.bert.configuration_bert import BertConfig
from tfmodels.models.bert.weights_bert import BERT_WEIGHTS
from tfmodels.tasks import (
    DecoderCapableModelTask,
    EncoderCausalLMTask,
    HeadAttribute,
    MaskedLMAndSentenceTask,
    MaskedLMTask,
    MultipleChoiceTask,
    QuestionAnsweringTask,
    SentencePairTask,
    SequenceClassificationTask,
    TaskModel,
    TokenClassificationTask,
)


def bert_layer_spec(config) -> LayerSpec:
    """The transformer layer of BERT and the architectures that reuse it (RoBERTa, ELECTRA)."""
    return LayerSpec(
        hidden_size=config.hidden_size, num_heads=config.num_attention_heads,
        intermediate_size=config.intermediate_size, activation=config.hidden_act,
        hidden_dropout=config.hidden_dropout_prob, attention_dropout=config.attention_probs_dropout_prob,
        layer_norm_eps=config.layer_norm_eps, initializer_range=config.initializer_range,
        cross_attention=bool(config.add_cross_attention),
    )


def bert_embedding_spec(config, padding_idx: int | None = None, dim: int | None = None) -> EmbeddingSpec:
    """BERT-style embeddings: words, learned absolute positions and token types."""
    if getattr(config, "position_embedding_type", "absolute") != "absolute":
        raise ConfigError(f"position_embedding_type={config.position_embedding_type!r} is not supported; only "
                          "'absolute' is.")
    return EmbeddingSpec(config.vocab_size, dim or config.hidden_size, config.max_position_embeddings,
                         config.type_vocab_size, config.layer_norm_eps, config.hidden_dropout_prob, padding_idx)


class TFBertPreTrainedModel(TaskModel):
    """BERT's architecture: the `bert` backbone, its weight table and its heads' settings."""

    config_class = BertConfig
    base_model_prefix = "bert"
    weight_table = BERT_WEIGHTS
    # The reference's attribute names of this architecture's head layers (`head_layer`).
    mlm = HeadAttribute()
    nsp = HeadAttribute()

    def make_backbone(self, config, add_pooling_layer: bool) -> EncoderBackbone:
        return EncoderBackbone(self.weight_table.blocks, bert_embedding_spec(config), bert_layer_spec(config),
                               config.num_hidden_layers, add_pooling_layer, causal=bool(config.is_decoder),
                               initializer_range=config.initializer_range, name=self.base_model_prefix)

    def head_settings(self, task: str) -> dict[str, Any]:
        config = self.config
        init = {"initializer_range": config.initializer_range}
        dropout = config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
        return {
            "masked_lm": {"activation": config.hidden_act, "layer_norm_eps": config.layer_norm_eps, **init},
            "next_sentence": init,
            "sequence_classification": {"style": "pooled", "dropout": dropout, **init},
            "multiple_choice": {"style": "pooled", "dropout": dropout, **init},
            "token_classification": {"dropout": dropout, **init},
            "question_answering": init,
        }[task]


class TFBertModel(TFBertPreTrainedModel, DecoderCapableModelTask):
    """The bare BERT encoder: `last_hidden_state` and `pooler_output`.

    Example:
        >>> model = TFBertModel.from_pretrained("bert-dir")
        >>> model({"input_ids": ids, "attention_mask": mask}).last_hidden_state
    """


class TFBertForPreTraining(TFBertPreTrainedModel, MaskedLMAndSentenceTask):
    """BERT with the masked-LM and next-sentence heads; the loss is their sum.

    Example:
        >>> out = model(inputs, labels=mlm_labels, next_sentence_label=nsp_labels)
    """


class TFBertForMaskedLM(TFBertPreTrainedModel, MaskedLMTask):
    """BERT with the masked-LM head (no pooler); the decoder is tied to the word embeddings.

    Example:
        >>> logits = model(inputs).logits  # [batch, seq, vocab]
    """


class TFBertLMHeadModel(TFBertPreTrainedModel, EncoderCausalLMTask):
    """BERT as a decoder (`is_decoder=True`): causal attention, a key/value cache, cross-attention to
    `encoder_hidden_states` with `add_cross_attention=True`, and `generate()`.

    Example:
        >>> model = TFBertLMHeadModel(BertConfig(is_decoder=True))
        >>> model.generate(ids, max_new_tokens=8)
    """


class TFBertForNextSentencePrediction(TFBertPreTrainedModel, SentencePairTask):
    """BERT with the next-sentence head (label 0: sentence B follows A; 1: B is random)."""


class TFBertForSequenceClassification(TFBertPreTrainedModel, SequenceClassificationTask):
    """BERT with a classifier (or regressor) on the pooled output; the loss follows `config.problem_type`.

    Example:
        >>> model = TFBertForSequenceClassification.from_pretrained("bert-dir", num_labels=3)
        >>> model(inputs, labels=labels).loss  # per example, shape [batch]
    """


class TFBertForMultipleChoice(TFBertPreTrainedModel, MultipleChoiceTask):
    """BERT scoring each choice: inputs `[batch, num_choices, seq]`, logits `[batch, num_choices]`."""


class TFBertForTokenClassification(TFBertPreTrainedModel, TokenClassificationTask):
    """BERT with a per-token classifier (NER, POS); labels of -100 are ignored."""


class TFBertForQuestionAnswering(TFBertPreTrainedModel, QuestionAnsweringTask):
    """BERT with span start/end classifiers (`qa_outputs`)."""
