"""ELECTRA: BERT's layers behind embeddings of `embedding_size` (projected to the hidden size when they differ),
no pooler, and its own heads: the replaced-token discriminator, the generator's masked-LM head, a gelu classifier
on the first token and the sequence-summary multiple-choice head."""

from __future__ import annotations

import dataclasses
from typing import Any

from tfmodels.errors import ConfigError
from tfmodels.layers.encoder import EncoderBackbone
from tfmodels.models.bert.modeling_bert import bert_embedding_spec, bert_layer_spec
from tfmodels.models.electra.configuration_electra import ElectraConfig
from tfmodels.models.electra.weights_electra import ELECTRA_WEIGHTS
from tfmodels.tasks import (
    DecoderCapableModelTask,
    HeadAttribute,
    MaskedLMTask,
    MultipleChoiceTask,
    QuestionAnsweringTask,
    ReplacedTokenDetectionTask,
    SequenceClassificationTask,
    TaskModel,
    TokenClassificationTask,
)


def summary_settings(config) -> dict[str, Any]:
    """The multiple-choice head's settings from the `summary_*` fields; only the projected first-token summary
    (every released ELECTRA configuration) is supported. No `summary_activation` means none (linear)."""
    unsupported = {name: getattr(config, name) for name, supported in
                   (("summary_type", "first"), ("summary_use_proj", True)) if getattr(config, name) != supported}
    if unsupported:
        raise ConfigError(f"ElectraForMultipleChoice supports summary_type='first' and summary_use_proj=True; the "
                          f"config has {unsupported}. Use those values.")
    return {"style": "summary", "activation": config.summary_activation or "linear",
            "dropout": config.summary_last_dropout}


class TFElectraPreTrainedModel(TaskModel):
    """ELECTRA's architecture: the `electra` backbone, its weight table and its heads' settings."""

    config_class = ElectraConfig
    base_model_prefix = "electra"
    weight_table = ELECTRA_WEIGHTS
    # The reference's attribute names of this architecture's head layers (`head_layer`).
    discriminator_predictions = HeadAttribute()
    generator_predictions = HeadAttribute()
    generator_lm_head = HeadAttribute()
    sequence_summary = HeadAttribute()

    def make_backbone(self, config, add_pooling_layer: bool) -> EncoderBackbone:
        layout = self.weight_table.blocks
        if config.embedding_size == config.hidden_size:
            layout = dataclasses.replace(layout, projection=None)
        return EncoderBackbone(layout, bert_embedding_spec(config, dim=config.embedding_size),
                               bert_layer_spec(config), config.num_hidden_layers, add_pooling_layer,
                               causal=bool(config.is_decoder), initializer_range=config.initializer_range,
                               name=self.base_model_prefix)

    def head_settings(self, task: str) -> dict[str, Any]:
        config = self.config
        init = {"initializer_range": config.initializer_range}
        if task == "multiple_choice":
            return {**summary_settings(config), **init}
        dropout = config.classifier_dropout if config.classifier_dropout is not None else config.hidden_dropout_prob
        return {
            "replaced_token_detection": {"activation": config.hidden_act, **init},
            "masked_lm": {"activation": "gelu", "layer_norm_eps": config.layer_norm_eps, "bias_first": False,
                          "norm_before_dense": True, **init},
            "sequence_classification": {"style": "first_token", "activation": "gelu", "dropout": dropout, **init},
            "token_classification": {"dropout": dropout, **init},
            "question_answering": init,
        }[task]


class TFElectraModel(TFElectraPreTrainedModel, DecoderCapableModelTask):
    """The bare ELECTRA encoder (generator or discriminator checkpoints): `last_hidden_state`, no pooler.

    Example:
        >>> model = TFElectraModel.from_pretrained("electra-dir")
        >>> model({"input_ids": ids, "attention_mask": mask}).last_hidden_state
    """


class TFElectraForPreTraining(TFElectraPreTrainedModel, ReplacedTokenDetectionTask):
    """ELECTRA's discriminator: one logit per token (positive: replaced); the loss is the binary cross entropy over
    the tokens of `attention_mask`.

    Example:
        >>> model(inputs, labels=replaced).logits  # [batch, seq]
    """


class TFElectraForMaskedLM(TFElectraPreTrainedModel, MaskedLMTask):
    """ELECTRA's generator: the masked-LM head, its decoder tied to the word embeddings; labels of -100 are ignored.

    Example:
        >>> logits = model(inputs).logits  # [batch, seq, vocab]
    """


class TFElectraForSequenceClassification(TFElectraPreTrainedModel, SequenceClassificationTask):
    """ELECTRA with a classifier (dense, gelu, out_proj) on the first token; the loss follows `config.problem_type`.

    Example:
        >>> model = TFElectraForSequenceClassification.from_pretrained("electra-dir", num_labels=3)
        >>> model(inputs, labels=labels).loss  # per example, shape [batch]
    """


class TFElectraForMultipleChoice(TFElectraPreTrainedModel, MultipleChoiceTask):
    """ELECTRA scoring each choice through the sequence summary: inputs `[batch, num_choices, seq]`, logits
    `[batch, num_choices]`.

    Example:
        >>> model({"input_ids": ids_3d, "attention_mask": mask_3d}).logits  # [batch, num_choices]
    """


class TFElectraForTokenClassification(TFElectraPreTrainedModel, TokenClassificationTask):
    """ELECTRA with a per-token classifier (NER, POS); labels of -100 are ignored.

    Example:
        >>> model(inputs, labels=tags).logits  # [batch, seq, num_labels]
    """


class TFElectraForQuestionAnswering(TFElectraPreTrainedModel, QuestionAnsweringTask):
    """ELECTRA with span start/end classifiers (`qa_outputs`).

    Example:
        >>> out = model(inputs); out.start_logits, out.end_logits
    """
