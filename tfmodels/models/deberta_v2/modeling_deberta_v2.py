"""DeBERTa-v2: the backbone (`encoder_deberta_v2.py`) and its classes, each a shared head of the kit."""

from __future__ import annotations

from typing import Any

from tfmodels import input_checks
from tfmodels.call_inputs import unpack_inputs
from tfmodels.errors import ConfigError
from tfmodels.modeling_outputs import ModelOutput
from tfmodels.models.deberta_v2.configuration_deberta_v2 import DebertaV2Config
from tfmodels.models.deberta_v2.encoder_deberta_v2 import DebertaV2Backbone
from tfmodels.models.deberta_v2.weights_deberta_v2 import DEBERTA_V2_WEIGHTS
from tfmodels.tasks import (
    BaseModelTask,
    MaskedLMTask,
    MultipleChoiceTask,
    QuestionAnsweringTask,
    SequenceClassificationTask,
    TaskModel,
    TokenClassificationTask,
)


class TFDebertaV2PreTrainedModel(TaskModel):
    """DeBERTa-v2's architecture: the `deberta` backbone, its weight table and its heads' settings (sequence
    classification: `pooler/dense` with `pooler_hidden_act` on the first token, then `classifier`). Its `call`
    takes the reference's inputs (no `head_mask`)."""

    config_class = DebertaV2Config
    base_model_prefix = "deberta"
    weight_table = DEBERTA_V2_WEIGHTS

    def make_backbone(self, config, add_pooling_layer: bool) -> DebertaV2Backbone:
        return DebertaV2Backbone(config, self.weight_table.blocks, name=self.base_model_prefix)

    def check_inputs(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """The kit's checks; without token types (`type_vocab_size` 0, DeBERTa-v3) `token_type_ids` are ignored,
        as the reference ignores them."""
        config = self.config
        return input_checks.check_model_inputs(arguments, config.vocab_size, config.hidden_size,
                                               self.max_sequence_length(), self.token_ranks,
                                               config.type_vocab_size or None, "input_ids")

    def head_settings(self, task: str) -> dict[str, Any]:
        config = self.config
        if task in ("sequence_classification", "multiple_choice") and config.pooler_hidden_size != config.hidden_size:
            raise ConfigError(f"DeBERTa-v2's pooler_hidden_size ({config.pooler_hidden_size}) must equal hidden_size "
                              f"({config.hidden_size}) here.")
        init = {"initializer_range": config.initializer_range}
        dropout = getattr(config, "cls_dropout", None)
        dropout = config.hidden_dropout_prob if dropout is None else dropout
        pooled = {"style": "first_token", "dropout": dropout, "activation": config.pooler_hidden_act, **init}
        return {
            "masked_lm": {"activation": config.hidden_act, "layer_norm_eps": config.layer_norm_eps, **init},
            "sequence_classification": pooled,
            "multiple_choice": pooled,
            "token_classification": {"dropout": config.hidden_dropout_prob, **init},
            "question_answering": init,
        }[task]

    @unpack_inputs
    def call(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None, inputs_embeds=None,
             output_attentions=None, output_hidden_states=None, return_dict=None, labels=None,
             training=False) -> ModelOutput | tuple:
        return self.run_task(locals())


class TFDebertaV2Model(TFDebertaV2PreTrainedModel, BaseModelTask):
    """The bare DeBERTa-v2 encoder: `last_hidden_state` (no pooler).

    Example:
        >>> model = TFDebertaV2Model.from_pretrained("microsoft/deberta-v3-base")
        >>> model({"input_ids": ids, "attention_mask": mask}).last_hidden_state
    """

    @unpack_inputs
    def call(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None, inputs_embeds=None,
             output_attentions=None, output_hidden_states=None, return_dict=None,
             training=False) -> ModelOutput | tuple:
        return self.run_task(locals())


class TFDebertaV2ForMaskedLM(TFDebertaV2PreTrainedModel, MaskedLMTask):
    """DeBERTa-v2 with the masked-LM head (`cls/predictions`: transform, and the decoder tied to the word
    embeddings); labels of -100 are ignored.

    Example:
        >>> model(inputs, labels=labels).logits  # [batch, seq, vocab]
    """


class TFDebertaV2ForSequenceClassification(TFDebertaV2PreTrainedModel, SequenceClassificationTask):
    """DeBERTa-v2 with its context pooler (`pooler/dense` on the first token) and `classifier`; the loss follows
    `config.problem_type`.

    Example:
        >>> model = TFDebertaV2ForSequenceClassification.from_pretrained("microsoft/deberta-v3-base", num_labels=2)
    """


class TFDebertaV2ForTokenClassification(TFDebertaV2PreTrainedModel, TokenClassificationTask):
    """DeBERTa-v2 with a per-token classifier; labels of -100 are ignored.

    Example:
        >>> model(inputs, labels=tags).logits  # [batch, seq, num_labels]
    """


class TFDebertaV2ForQuestionAnswering(TFDebertaV2PreTrainedModel, QuestionAnsweringTask):
    """DeBERTa-v2 with span start/end classifiers (`qa_outputs`).

    Example:
        >>> out = model(inputs, start_positions=starts, end_positions=ends)
    """

    @unpack_inputs
    def call(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None, inputs_embeds=None,
             output_attentions=None, output_hidden_states=None, return_dict=None, start_positions=None,
             end_positions=None, training=False) -> ModelOutput | tuple:
        return self.run_task(locals())


class TFDebertaV2ForMultipleChoice(TFDebertaV2PreTrainedModel, MultipleChoiceTask):
    """DeBERTa-v2 scoring each choice with the context pooler and `classifier`: inputs `[batch, num_choices, seq]`,
    logits `[batch, num_choices]`.

    Example:
        >>> model({"input_ids": ids_3d, "attention_mask": mask_3d}, labels=answers).logits
    """
