"""DistilBERT: the backbone assembled from the kit, and its classes (a shared head each)."""

from __future__ import annotations

from typing import Any

from tfmodels.layers.encoder import EmbeddingSpec, EncoderBackbone
from tfmodels.layers.transformer import LayerSpec
from tfmodels.call_inputs import unpack_inputs
from tfmodels.modeling_outputs import ModelOutput, TFBaseModelOutput
from tfmodels.models.distilbert.configuration_distilbert import DistilBertConfig
from tfmodels.models.distilbert.weights_distilbert import DISTILBERT_WEIGHTS
from tfmodels.tasks import (
    BaseModelTask,
    HeadAttribute,
    MaskedLMTask,
    MultipleChoiceTask,
    QuestionAnsweringTask,
    SequenceClassificationTask,
    TaskModel,
    TokenClassificationTask,
)

LAYER_NORM_EPS = 1e-12  # fixed in the reference, not a config field


class TFDistilBertPreTrainedModel(TaskModel):
    """DistilBERT's architecture: the `distilbert` backbone (no token types, no pooler), its weight table and its
    heads' settings. Its inputs are those of the reference: no `token_type_ids`, no `position_ids`; the `call`
    here (inputs and `labels`) serves the masked-LM, classification and multiple-choice classes, the bare model
    and question answering have their own."""

    config_class = DistilBertConfig
    base_model_prefix = "distilbert"
    weight_table = DISTILBERT_WEIGHTS
    # The reference's attribute names of this architecture's head layers (`head_layer`).
    vocab_transform = HeadAttribute()
    vocab_layer_norm = HeadAttribute()
    vocab_projector = HeadAttribute()
    pre_classifier = HeadAttribute()

    def make_backbone(self, config, add_pooling_layer: bool) -> EncoderBackbone:
        embeddings = EmbeddingSpec(config.vocab_size, config.dim, config.max_position_embeddings,
                                   layer_norm_eps=LAYER_NORM_EPS, dropout=config.dropout,
                                   sinusoidal=bool(config.sinusoidal_pos_embds))
        layer = LayerSpec(hidden_size=config.dim, num_heads=config.n_heads, intermediate_size=config.hidden_dim,
                          activation=config.activation, hidden_dropout=config.dropout,
                          attention_dropout=config.attention_dropout, layer_norm_eps=LAYER_NORM_EPS,
                          initializer_range=config.initializer_range, dropout_after_attention=False)
        return EncoderBackbone(self.weight_table.blocks, embeddings, layer, config.n_layers, add_pooling_layer,
                               initializer_range=config.initializer_range, name=self.base_model_prefix)

    def head_settings(self, task: str) -> dict[str, Any]:
        config = self.config
        init = {"initializer_range": config.initializer_range}
        classifier = {"style": "pre_classifier", "dropout": config.seq_classif_dropout, **init}
        return {
            "masked_lm": {"activation": config.activation, "layer_norm_eps": LAYER_NORM_EPS, "bias_first": False,
                          **init},
            "sequence_classification": classifier,
            "multiple_choice": classifier,
            "token_classification": {"dropout": config.dropout, **init},
            "question_answering": {"dropout": config.qa_dropout, **init},
        }[task]

    @unpack_inputs
    def call(self, input_ids=None, attention_mask=None, head_mask=None, inputs_embeds=None, output_attentions=None,
             output_hidden_states=None, return_dict=None, labels=None, training=False) -> ModelOutput | tuple:
        return self.run_task(locals())


class TFDistilBertModel(TFDistilBertPreTrainedModel, BaseModelTask):
    """The bare DistilBERT encoder: `last_hidden_state` (no pooler output).

    Example:
        >>> model = TFDistilBertModel.from_pretrained("distilbert-dir")
        >>> model({"input_ids": ids, "attention_mask": mask}).last_hidden_state
    """

    def forward(self, inputs, labels, training):
        return TFBaseModelOutput(self.encode(inputs, training))

    @unpack_inputs
    def call(self, input_ids=None, attention_mask=None, head_mask=None, inputs_embeds=None, output_attentions=None,
             output_hidden_states=None, return_dict=None, training=False) -> ModelOutput | tuple:
        return self.run_task(locals())


class TFDistilBertForMaskedLM(TFDistilBertPreTrainedModel, MaskedLMTask):
    """DistilBERT with the masked-LM head (`vocab_transform`, `vocab_layer_norm`, `vocab_projector` tied to the
    word embeddings); labels of -100 are ignored.

    Example:
        >>> logits = TFDistilBertForMaskedLM.from_pretrained("distilbert-dir")(inputs).logits  # [batch, seq, vocab]
    """


class TFDistilBertForSequenceClassification(TFDistilBertPreTrainedModel, SequenceClassificationTask):
    """DistilBERT with `pre_classifier` (ReLU) and `classifier` on the first token; the loss follows
    `config.problem_type`.

    Example:
        >>> model = TFDistilBertForSequenceClassification.from_pretrained("distilbert-dir", num_labels=3)
        >>> model(inputs, labels=labels).loss  # per example, shape [batch]
    """


class TFDistilBertForMultipleChoice(TFDistilBertPreTrainedModel, MultipleChoiceTask):
    """DistilBERT scoring each choice with the sequence classifier's head: inputs `[batch, num_choices, seq]`,
    logits `[batch, num_choices]`.

    Example:
        >>> model({"input_ids": ids_3d, "attention_mask": mask_3d}, labels=answers).logits
    """


class TFDistilBertForTokenClassification(TFDistilBertPreTrainedModel, TokenClassificationTask):
    """DistilBERT with a per-token classifier (NER, POS); labels of -100 are ignored.

    Example:
        >>> model(inputs, labels=tags).logits  # [batch, seq, num_labels]
    """


class TFDistilBertForQuestionAnswering(TFDistilBertPreTrainedModel, QuestionAnsweringTask):
    """DistilBERT with span start/end classifiers (`qa_outputs`, after `qa_dropout`).

    Example:
        >>> out = model(inputs, start_positions=starts, end_positions=ends)
        >>> out.start_logits, out.end_logits, out.loss
    """

    @unpack_inputs
    def call(self, input_ids=None, attention_mask=None, head_mask=None, inputs_embeds=None, output_attentions=None,
             output_hidden_states=None, return_dict=None, start_positions=None, end_positions=None,
             training=False) -> ModelOutput | tuple:
        return self.run_task(locals())
