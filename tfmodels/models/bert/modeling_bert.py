"""BERT models: the base encoder and its task heads."""

from __future__ import annotations

import keras
import tensorflow as tf

from tfmodels.errors import ConfigError
from tfmodels.layers import losses
from tfmodels.layers.core import get_initializer
from tfmodels.modeling import TFPreTrainedModel, float32_logits, unpack_inputs
from tfmodels.modeling_outputs import (
    TFBertForPreTrainingOutput,
    TFMaskedLMOutput,
    TFMultipleChoiceModelOutput,
    TFNextSentencePredictorOutput,
    TFQuestionAnsweringModelOutput,
    TFSequenceClassifierOutput,
    TFTokenClassifierOutput,
)
from tfmodels.models.bert.configuration_bert import BertConfig
from tfmodels.models.bert.layers import TFBertMainLayer, TFBertMLMHead, TFBertNSPHead

_SERIALIZABLE = keras.saving.register_keras_serializable(package="tfmodels")


class TFBertPreTrainedModel(TFPreTrainedModel):
    """Shared plumbing of the BERT models: the `bert` main layer and the output helpers."""

    config_class = BertConfig
    base_model_prefix = "bert"
    add_pooling_layer = True

    def __init__(self, config: BertConfig, *inputs, **kwargs):
        super().__init__(config, *inputs, **kwargs)
        self.bert = TFBertMainLayer(config, add_pooling_layer=self.add_pooling_layer, name="bert")

    def _encode(self, input_ids, attention_mask, token_type_ids, position_ids, head_mask, inputs_embeds,
                output_attentions, output_hidden_states, training):
        return self.bert(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                         position_ids=position_ids, head_mask=head_mask, inputs_embeds=inputs_embeds,
                         output_attentions=output_attentions, output_hidden_states=output_hidden_states,
                         training=training)

    @staticmethod
    def _finish(output_class, return_dict, encoded, **fields):
        fields = {name: float32_logits(value) if name.endswith("logits") else value for name, value in fields.items()}
        output = output_class(hidden_states=encoded.get("hidden_states"), attentions=encoded.get("attentions"),
                              **fields)
        return output if return_dict else output.to_tuple()

    def _classifier_dropout(self) -> keras.layers.Dropout:
        rate = self.config.classifier_dropout
        return keras.layers.Dropout(self.config.hidden_dropout_prob if rate is None else rate, name="dropout")

    def _dense_head(self, units: int, name: str) -> keras.layers.Dense:
        return keras.layers.Dense(units, kernel_initializer=get_initializer(self.config.initializer_range), name=name)


@_SERIALIZABLE
class TFBertModel(TFBertPreTrainedModel):
    """The bare BERT encoder: `last_hidden_state` and `pooler_output`.

    Example:
        >>> model = TFBertModel.from_pretrained("bert-dir")
        >>> model({"input_ids": ids, "attention_mask": mask}).last_hidden_state
    """

    def __init__(self, config: BertConfig, *inputs, **kwargs):
        super().__init__(config, *inputs, **kwargs)
        self.build_in_name_scope()

    def build(self, input_shape=None):
        self.bert.build(None)

    @unpack_inputs
    def call(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None, head_mask=None,
             inputs_embeds=None, output_attentions=None, output_hidden_states=None, return_dict=None,
             training=False):
        output = self._encode(input_ids, attention_mask, token_type_ids, position_ids, head_mask, inputs_embeds,
                              output_attentions, output_hidden_states, training)
        return output if return_dict else output.to_tuple()


@_SERIALIZABLE
class TFBertForPreTraining(TFBertPreTrainedModel):
    """BERT with the masked-LM and next-sentence heads; the loss is their sum.

    Example:
        >>> out = model(inputs, labels=mlm_labels, next_sentence_label=nsp_labels)
    """

    _keys_to_ignore_on_load_unexpected = [r"position_ids", r"cls.predictions.decoder"]

    def __init__(self, config: BertConfig, *inputs, **kwargs):
        super().__init__(config, *inputs, **kwargs)
        self.nsp = TFBertNSPHead(config, name="nsp___cls")
        self.mlm = TFBertMLMHead(config, self.bert.embeddings, name="mlm___cls")
        self.build_in_name_scope()

    def build(self, input_shape=None):
        self.bert.build(None)
        self.nsp.build(None)
        self.mlm.build(None)

    def get_lm_head(self):
        return self.mlm.predictions

    @unpack_inputs
    def call(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None, head_mask=None,
             inputs_embeds=None, output_attentions=None, output_hidden_states=None, return_dict=None, labels=None,
             next_sentence_label=None, training=False):
        encoded = self._encode(input_ids, attention_mask, token_type_ids, position_ids, head_mask, inputs_embeds,
                               output_attentions, output_hidden_states, training)
        prediction_logits = self.mlm(encoded["last_hidden_state"])
        seq_relationship_logits = self.nsp(encoded["pooler_output"])
        loss = None
        if labels is not None and next_sentence_label is not None:
            loss = losses.masked_lm_loss(labels, prediction_logits) + losses.next_sentence_loss(
                next_sentence_label, seq_relationship_logits
            )
        return self._finish(TFBertForPreTrainingOutput, return_dict, encoded, loss=loss,
                            prediction_logits=prediction_logits, seq_relationship_logits=seq_relationship_logits)


@_SERIALIZABLE
class TFBertForMaskedLM(TFBertPreTrainedModel):
    """BERT with the masked-LM head (no pooler); the decoder is tied to the word embeddings.

    Example:
        >>> logits = model(inputs).logits  # [batch, seq, vocab]
    """

    add_pooling_layer = False
    _keys_to_ignore_on_load_unexpected = [r"pooler", r"cls.seq_relationship", r"cls.predictions.decoder",
                                          r"nsp___cls", r"position_ids"]

    def __init__(self, config: BertConfig, *inputs, **kwargs):
        super().__init__(config, *inputs, **kwargs)
        self.mlm = TFBertMLMHead(config, self.bert.embeddings, name="mlm___cls")
        self.build_in_name_scope()

    def build(self, input_shape=None):
        self.bert.build(None)
        self.mlm.build(None)

    def get_lm_head(self):
        return self.mlm.predictions

    @unpack_inputs
    def call(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None, head_mask=None,
             inputs_embeds=None, output_attentions=None, output_hidden_states=None, return_dict=None, labels=None,
             training=False):
        encoded = self._encode(input_ids, attention_mask, token_type_ids, position_ids, head_mask, inputs_embeds,
                               output_attentions, output_hidden_states, training)
        logits = self.mlm(encoded["last_hidden_state"])
        loss = None if labels is None else losses.masked_lm_loss(labels, logits)
        return self._finish(TFMaskedLMOutput, return_dict, encoded, loss=loss, logits=logits)


@_SERIALIZABLE
class TFBertForNextSentencePrediction(TFBertPreTrainedModel):
    """BERT with the next-sentence head (label 0: sentence B follows A; 1: B is random)."""

    _keys_to_ignore_on_load_unexpected = [r"mlm___cls", r"cls.predictions", r"position_ids"]

    def __init__(self, config: BertConfig, *inputs, **kwargs):
        super().__init__(config, *inputs, **kwargs)
        self.nsp = TFBertNSPHead(config, name="nsp___cls")
        self.build_in_name_scope()

    def build(self, input_shape=None):
        self.bert.build(None)
        self.nsp.build(None)

    @unpack_inputs
    def call(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None, head_mask=None,
             inputs_embeds=None, output_attentions=None, output_hidden_states=None, return_dict=None,
             next_sentence_label=None, training=False):
        encoded = self._encode(input_ids, attention_mask, token_type_ids, position_ids, head_mask, inputs_embeds,
                               output_attentions, output_hidden_states, training)
        logits = self.nsp(encoded["pooler_output"])
        loss = None if next_sentence_label is None else losses.next_sentence_loss(next_sentence_label, logits)
        return self._finish(TFNextSentencePredictorOutput, return_dict, encoded, loss=loss, logits=logits)


@_SERIALIZABLE
class TFBertForSequenceClassification(TFBertPreTrainedModel):
    """BERT with a classifier (or regressor) on the pooled output; the loss follows `config.problem_type`.

    Example:
        >>> model = TFBertForSequenceClassification.from_pretrained("bert-dir", num_labels=3)
        >>> model(inputs, labels=labels).loss  # per example, shape [batch]
    """

    _keys_to_ignore_on_load_unexpected = [r"mlm___cls", r"nsp___cls", r"cls.predictions", r"cls.seq_relationship",
                                          r"position_ids"]
    _keys_to_ignore_on_load_missing = [r"dropout"]

    def __init__(self, config: BertConfig, *inputs, **kwargs):
        super().__init__(config, *inputs, **kwargs)
        self.dropout = self._classifier_dropout()
        self.classifier = self._dense_head(config.num_labels, "classifier")
        self.build_in_name_scope()

    def build(self, input_shape=None):
        self.bert.build(None)
        self.classifier.build((None, self.config.hidden_size))

    @unpack_inputs
    def call(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None, head_mask=None,
             inputs_embeds=None, output_attentions=None, output_hidden_states=None, return_dict=None, labels=None,
             training=False):
        encoded = self._encode(input_ids, attention_mask, token_type_ids, position_ids, head_mask, inputs_embeds,
                               output_attentions, output_hidden_states, training)
        logits = self.classifier(self.dropout(encoded["pooler_output"], training=training))
        loss = None
        if labels is not None:
            loss = losses.sequence_classification_loss(labels, logits, self.config.problem_type)
        return self._finish(TFSequenceClassifierOutput, return_dict, encoded, loss=loss, logits=logits)


@_SERIALIZABLE
class TFBertForMultipleChoice(TFBertPreTrainedModel):
    """BERT scoring each choice: inputs `[batch, num_choices, seq]`, logits `[batch, num_choices]`."""

    _keys_to_ignore_on_load_unexpected = [r"mlm___cls", r"nsp___cls", r"cls.predictions", r"cls.seq_relationship"]

    def __init__(self, config: BertConfig, *inputs, **kwargs):
        super().__init__(config, *inputs, **kwargs)
        self.dropout = self._classifier_dropout()
        self.classifier = self._dense_head(1, "classifier")
        self.build_in_name_scope()

    def build(self, input_shape=None):
        self.bert.build(None)
        self.classifier.build((None, self.config.hidden_size))

    @unpack_inputs
    def call(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None, head_mask=None,
             inputs_embeds=None, output_attentions=None, output_hidden_states=None, return_dict=None, labels=None,
             training=False):
        reference = input_ids if input_ids is not None else inputs_embeds
        num_choices = tf.shape(reference)[1]

        def flat(x, keep_last: bool = False):
            if x is None:
                return None
            return tf.reshape(x, tf.concat([[-1], tf.shape(x)[2:]], 0)) if keep_last else tf.reshape(
                x, (-1, tf.shape(x)[-1]))

        encoded = self._encode(flat(input_ids), flat(attention_mask), flat(token_type_ids), flat(position_ids),
                               head_mask, flat(inputs_embeds, keep_last=True), output_attentions,
                               output_hidden_states, training)
        logits = self.classifier(self.dropout(encoded["pooler_output"], training=training))
        logits = tf.reshape(logits, (-1, num_choices))
        loss = None if labels is None else losses.single_label_loss(labels, logits)
        return self._finish(TFMultipleChoiceModelOutput, return_dict, encoded, loss=loss, logits=logits)


@_SERIALIZABLE
class TFBertForTokenClassification(TFBertPreTrainedModel):
    """BERT with a per-token classifier (NER, POS); labels of -100 are ignored."""

    add_pooling_layer = False
    _keys_to_ignore_on_load_unexpected = [r"pooler", r"mlm___cls", r"nsp___cls", r"cls.predictions",
                                          r"cls.seq_relationship", r"position_ids"]

    def __init__(self, config: BertConfig, *inputs, **kwargs):
        super().__init__(config, *inputs, **kwargs)
        self.dropout = self._classifier_dropout()
        self.classifier = self._dense_head(config.num_labels, "classifier")
        self.build_in_name_scope()

    def build(self, input_shape=None):
        self.bert.build(None)
        self.classifier.build((None, None, self.config.hidden_size))

    @unpack_inputs
    def call(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None, head_mask=None,
             inputs_embeds=None, output_attentions=None, output_hidden_states=None, return_dict=None, labels=None,
             training=False):
        encoded = self._encode(input_ids, attention_mask, token_type_ids, position_ids, head_mask, inputs_embeds,
                               output_attentions, output_hidden_states, training)
        logits = self.classifier(self.dropout(encoded["last_hidden_state"], training=training))
        loss = None if labels is None else losses.token_classification_loss(labels, logits)
        return self._finish(TFTokenClassifierOutput, return_dict, encoded, loss=loss, logits=logits)


@_SERIALIZABLE
class TFBertForQuestionAnswering(TFBertPreTrainedModel):
    """BERT with span start/end classifiers (`qa_outputs`)."""

    add_pooling_layer = False
    _keys_to_ignore_on_load_unexpected = [r"pooler", r"mlm___cls", r"nsp___cls", r"cls.predictions",
                                          r"cls.seq_relationship", r"position_ids"]

    def __init__(self, config: BertConfig, *inputs, **kwargs):
        super().__init__(config, *inputs, **kwargs)
        if config.num_labels != 2:
            raise ConfigError(f"Question answering predicts a start and an end logit: num_labels must be 2; the "
                              f"config has {config.num_labels}.")
        self.qa_outputs = self._dense_head(config.num_labels, "qa_outputs")
        self.build_in_name_scope()

    def build(self, input_shape=None):
        self.bert.build(None)
        self.qa_outputs.build((None, None, self.config.hidden_size))

    @unpack_inputs
    def call(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None, head_mask=None,
             inputs_embeds=None, output_attentions=None, output_hidden_states=None, return_dict=None,
             start_positions=None, end_positions=None, training=False):
        encoded = self._encode(input_ids, attention_mask, token_type_ids, position_ids, head_mask, inputs_embeds,
                               output_attentions, output_hidden_states, training)
        logits = self.qa_outputs(encoded["last_hidden_state"])
        start_logits, end_logits = tf.unstack(logits, num=2, axis=-1)
        loss = None
        if start_positions is not None and end_positions is not None:
            loss = losses.question_answering_loss(start_positions, end_positions, start_logits, end_logits)
        return self._finish(TFQuestionAnsweringModelOutput, return_dict, encoded, loss=loss,
                            start_logits=start_logits, end_logits=end_logits)
