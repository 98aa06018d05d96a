"""ALBERT: BERT's blocks with factorised embeddings and layers shared across the stack, and its classes."""

from __future__ import annotations

import dataclasses
from typing import Any

from tfmodels.layers.encoder import EncoderBackbone
from tfmodels.models.albert.configuration_albert import AlbertConfig
from tfmodels.models.albert.weights_albert import ALBERT_WEIGHTS
from tfmodels.models.bert.modeling_bert import bert_embedding_spec, bert_layer_spec
from tfmodels.call_inputs import unpack_inputs
from tfmodels.modeling_outputs import ModelOutput, TFAlbertForPreTrainingOutput
from tfmodels.tasks import (
    BaseModelTask,
    HeadAttribute,
    MaskedLMAndSentenceTask,
    MaskedLMTask,
    MultipleChoiceTask,
    QuestionAnsweringTask,
    SequenceClassificationTask,
    TaskModel,
    TokenClassificationTask,
)


def albert_layer_plan(config) -> tuple[list[str], list[list[int]], list[int]]:
    """The shared layers' paths (group by group), the schedule (step `i` of `num_hidden_layers` applies, in order,
    the layers of group `int(i / (num_hidden_layers / num_hidden_groups))`) and each layer's head-mask row (the
    reference's `group * layers_per_group + inner index`, whatever the step).

    Example:
        >>> albert_layer_plan(AlbertConfig(num_hidden_layers=4, num_hidden_groups=2, inner_group_num=1))[1]
        [[0], [0], [1], [1]]
    """
    groups, inner, steps = config.num_hidden_groups, config.inner_group_num, config.num_hidden_layers
    paths = [ALBERT_WEIGHTS.blocks.layer.format(g=g, j=j) for g in range(groups) for j in range(inner)]
    schedule = [[int(i / (steps / groups)) * inner + j for j in range(inner)] for i in range(steps)]
    per_group = int(steps / groups)
    head_mask_rows = [g * per_group + j for g in range(groups) for j in range(inner)]
    return paths, schedule, head_mask_rows


class TFAlbertPreTrainedModel(TaskModel):
    """ALBERT's architecture: the `albert` backbone, its weight table and its heads' settings. Head pruning takes
    the index of a shared layer in the flattened groups (`group * inner_group_num + layer`)."""

    config_class = AlbertConfig
    base_model_prefix = "albert"
    weight_table = ALBERT_WEIGHTS
    # The reference's attribute names of this architecture's head layers (`head_layer`).
    predictions = HeadAttribute()
    sop_classifier = HeadAttribute()

    def make_backbone(self, config, add_pooling_layer: bool) -> EncoderBackbone:
        paths, schedule, head_mask_rows = albert_layer_plan(config)
        layer_spec = dataclasses.replace(bert_layer_spec(config), cross_attention=False)
        return EncoderBackbone(self.weight_table.blocks, bert_embedding_spec(config, dim=config.embedding_size),
                               layer_spec, len(paths), add_pooling_layer, initializer_range=config.initializer_range,
                               schedule=schedule, layer_paths=paths, head_mask_rows=head_mask_rows,
                               name=self.base_model_prefix)

    def head_settings(self, task: str) -> dict[str, Any]:
        config = self.config
        init = {"initializer_range": config.initializer_range}
        dropout = config.classifier_dropout_prob
        token_dropout = dropout if dropout is not None else config.hidden_dropout_prob
        return {
            "masked_lm": {"activation": config.hidden_act, "layer_norm_eps": config.layer_norm_eps, **init},
            "sentence_order": {"dropout": dropout, "units": config.num_labels, **init},
            "sequence_classification": {"style": "pooled", "dropout": dropout, **init},
            "multiple_choice": {"style": "pooled", "dropout": dropout, **init},
            "token_classification": {"dropout": token_dropout, **init},
            "question_answering": init,
        }[task]

    def after_load(self, unloaded: list[str]) -> None:
        """A checkpoint without the masked-LM head's copy of its bias (`predictions/decoder/bias`; PyTorch ties it
        to `predictions/bias`) gets the bias itself, so that our saves hold both equal, as the reference's."""
        head = getattr(self, "lm_head_layer", None)  # the masked-LM and pre-training classes
        copy = None if head is None else head.decoder_bias
        if copy is not None and any(key.startswith(copy.bias.path.split("/", 1)[1]) for key in unloaded):
            copy.set_value(head.bias_layer.bias)


class TFAlbertModel(TFAlbertPreTrainedModel, BaseModelTask):
    """The bare ALBERT encoder: `last_hidden_state` and `pooler_output`; `hidden_states` holds the projected
    embeddings and one state per layer application.

    Example:
        >>> model = TFAlbertModel.from_pretrained("albert-dir")
        >>> model({"input_ids": ids, "attention_mask": mask}).pooler_output
    """


class TFAlbertForPreTraining(TFAlbertPreTrainedModel, MaskedLMAndSentenceTask):
    """ALBERT with the masked-LM and sentence-order heads (label 0: original order, 1: swapped); the loss is their
    sum.

    Example:
        >>> out = model(inputs, labels=mlm_labels, sentence_order_label=sop_labels)
        >>> out.prediction_logits, out.sop_logits
    """

    sentence_task = "sentence_order"
    sentence_output = "sop_logits"
    sentence_head_first = False
    output_class = TFAlbertForPreTrainingOutput
    label_names = ("labels", "sentence_order_label")
    tasks = ("masked_lm", "sentence_order")

    @unpack_inputs
    def call(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None, head_mask=None,
             inputs_embeds=None, output_attentions=None, output_hidden_states=None, return_dict=None, labels=None,
             sentence_order_label=None, training=False) -> ModelOutput | tuple:
        return self.run_task(locals())


class TFAlbertForMaskedLM(TFAlbertPreTrainedModel, MaskedLMTask):
    """ALBERT with the masked-LM head (no pooler); the decoder is tied to the word embeddings.

    Example:
        >>> logits = model(inputs).logits  # [batch, seq, vocab]
    """


class TFAlbertForSequenceClassification(TFAlbertPreTrainedModel, SequenceClassificationTask):
    """ALBERT with a classifier (or regressor) on the pooled output; the loss follows `config.problem_type`.

    Example:
        >>> model = TFAlbertForSequenceClassification.from_pretrained("albert-dir", num_labels=3)
        >>> model(inputs, labels=labels).loss  # per example, shape [batch]
    """


class TFAlbertForTokenClassification(TFAlbertPreTrainedModel, TokenClassificationTask):
    """ALBERT with a per-token classifier (NER, POS); labels of -100 are ignored.

    Example:
        >>> model(inputs, labels=tag_ids).logits  # [batch, seq, num_labels]
    """


class TFAlbertForQuestionAnswering(TFAlbertPreTrainedModel, QuestionAnsweringTask):
    """ALBERT with span start/end classifiers (`qa_outputs`).

    Example:
        >>> out = model(inputs, start_positions=starts, end_positions=ends)
        >>> out.start_logits, out.end_logits
    """


class TFAlbertForMultipleChoice(TFAlbertPreTrainedModel, MultipleChoiceTask):
    """ALBERT scoring each choice: inputs `[batch, num_choices, seq]`, logits `[batch, num_choices]`.

    Example:
        >>> model({"input_ids": ids_3d, "attention_mask": mask_3d}).logits  # [batch, num_choices]
    """
