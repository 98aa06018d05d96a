"""Task models: an architecture's backbone bound to a shared head, written once for every architecture.

An architecture subclasses `TaskModel` once (its config class, weight table, backbone and head settings), and each
of its public classes is that base plus a task:

    class TFRobertaForSequenceClassification(TFRobertaPreTrainedModel, SequenceClassificationTask):
        '''RoBERTa with a classifier on the first token.'''

A task's `call` takes the BERT family's inputs in the reference's order, then the task's labels. An architecture
whose reference takes other inputs (DistilBERT, GPT-2, Llama, the encoder-decoders) writes its own `call` with the
reference's parameters. Every `call` hands its arguments to `run_task`, which runs the task's `forward`.
"""

from __future__ import annotations

import inspect
import logging
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tfmodels.keras_private import sublayers
from tfmodels.checkpoints.names import WeightTable, path_pattern, strip_model_name
from tfmodels.checkpoints.pytorch_layout import PTWeight, pytorch_weights
from tfmodels import input_checks
from tfmodels.errors import ConfigError
from tfmodels.layers import losses
from tfmodels.layers.decoder import LMHead
from tfmodels.layers.embeddings import TokenEmbedding
from tfmodels.layers.heads import (
    ClassifierHead,
    LastTokenScore,
    MaskedLMHead,
    SequenceSummary,
    TiedLMHead,
    TokenHead,
    TokenScoreHead,
)
from tfmodels.call_inputs import float32_logits, unpack_inputs
from tfmodels.image_processing import ImageProcessor
from tfmodels.preprocessor_files import PREPROCESSOR_CONFIG
from tfmodels.modeling import TFPreTrainedModel
from tfmodels.modeling_outputs import (
    ModelOutput,
    TFCausalLMOutputWithCrossAttentions,
    TFMaskedLMOutput,
    TFMultipleChoiceModelOutput,
    TFNextSentencePredictorOutput,
    TFQuestionAnsweringModelOutput,
    TFSequenceClassifierOutput,
    TFBertForPreTrainingOutput,
    TFElectraForPreTrainingOutput,
    TFGPT2DoubleHeadsModelOutput,
    TFMoeCausalLMOutputWithPast,
    TFSequenceClassifierOutputWithPast,
    TFTokenClassifierOutput,
)

logger = logging.getLogger(__name__)


def flatten_choices(inputs: dict) -> tuple[dict, tf.Tensor]:
    """Multiple-choice inputs `[batch, choices, ...]` -> one row per choice `[batch * choices, ...]`, and the
    `[batch, choices]` shape to fold the outputs back.

    Example:
        >>> flat, choices = flatten_choices({"input_ids": ids_2x3x8})  # flat["input_ids"]: [6, 8]; choices: [2, 3]
    """
    reference = inputs["input_ids"] if inputs.get("input_ids") is not None else inputs["inputs_embeds"]
    flat = {}
    for name, value in inputs.items():
        if name in ("input_ids", "attention_mask", "token_type_ids", "position_ids") and value is not None:
            value = tf.reshape(value, (-1, tf.shape(value)[-1]))
        elif name == "inputs_embeds" and value is not None:
            value = tf.reshape(value, tf.concat([[-1], tf.shape(value)[-2:]], 0))
        flat[name] = value
    return flat, tf.shape(reference)[:2]


class HeadAttribute:
    """A head layer under the reference's attribute name: `model.classifier` is `model.head_layer("classifier")`.

    Example:
        >>> class TFDistilBertPreTrainedModel(TaskModel):
        ...     pre_classifier = HeadAttribute()  # model.pre_classifier: the layer at `pre_classifier`
    """

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, model, owner: type | None = None) -> "keras.layers.Layer | HeadAttribute":
        return self if model is None else model.head_layer(self.name)


class TaskModel(TFPreTrainedModel):
    """A backbone (named `base_model_prefix`) and the heads of one task.

    Architecture bases set `config_class`, `base_model_prefix`, `weight_table` and implement
    `make_backbone(config, add_pooling_layer)` and `head_settings(task)`; tasks set `label_names`, `tasks` (the
    weight-table heads they use) and implement `make_heads(config)`, `forward(inputs, labels, training)` and a
    `call` with the reference's parameters.
    """

    weight_table: WeightTable | None = None
    label_names: tuple[str, ...] = ()
    tasks: tuple[str, ...] = ()
    token_ranks: tuple[int, ...] = (2,)  # the ranks `input_ids` may have: [batch, seq] (3: [batch, choices, seq])
    bare_backbone = False  # the class is the bare backbone: its PyTorch keys have no `base_model_prefix`

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__name__.startswith("TF") and "PreTrainedModel" not in cls.__name__:
            keras.saving.register_keras_serializable(package="tfmodels")(cls)

    def __init__(self, config, *inputs: Any, **kwargs: Any) -> None:
        super().__init__(config, *inputs, **kwargs)
        setattr(self, self.base_model_prefix, self.make_backbone(config, self.uses_pooler()))
        self.make_heads(config)
        self.build_in_name_scope()

    # ---- what architectures provide ----------------------------------------------------------------------------
    def make_backbone(self, config, add_pooling_layer: bool) -> keras.layers.Layer:
        """The backbone layer, named `base_model_prefix`."""
        raise NotImplementedError

    def head_settings(self, task: str) -> dict[str, Any]:
        """Keyword arguments of the task's head (style, dropout, activation); paths come from the weight table."""
        return {}

    # ---- what tasks provide ------------------------------------------------------------------------------------
    def make_heads(self, config) -> None:
        """Create the task's head layers as attributes (none for the bare backbone)."""

    def uses_pooler(self) -> bool:
        """Whether the backbone needs its pooler for this task."""
        return False

    def forward(self, inputs: dict, labels: dict, training) -> Any:
        """The task's pass: `inputs` are the call's parameters but the labels, `training` and `return_dict`;
        `labels` every name of `label_names` (None when not given); returns the task's `ModelOutput`."""
        raise NotImplementedError

    # ---- shared plumbing ---------------------------------------------------------------------------------------
    def run_task(self, arguments: dict[str, Any]) -> ModelOutput | tuple:
        """The work of every `call`: `arguments` are the call's parameters (its `locals()`); the labels
        (`label_names`) and `training` go to `forward` apart from the inputs and flags, and `return_dict=False`
        gives a tuple.

        Example:
            >>> def call(self, input_ids=None, return_dict=None, labels=None, training=False):
            ...     return self.run_task(locals())
        """
        inputs = {name: value for name, value in arguments.items() if name not in ("self", "__class__")}
        labels = {name: inputs.pop(name) for name in self.label_names}
        return_dict, training = inputs.pop("return_dict"), inputs.pop("training")
        output = self.forward(inputs, labels, training)
        return output if return_dict else output.to_tuple()

    def max_sequence_length(self) -> int | None:
        """The longest input (cached tokens included) the backbone's absolute position table covers; None for
        relative or rotary positions (T5, Llama), which have no hard limit."""
        return getattr(self.backbone, "max_sequence_length", None)

    def check_inputs(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """Dtypes, ranks, mask shapes, token ids inside the vocabulary and lengths inside the positions, checked
        before any layer runs (`tfmodels.input_checks`).

        Example:
            >>> model({"input_ids": [[5, 999999]]})  # ValueError: input_ids holds token id 999999, outside ...
        """
        table = self.get_input_embeddings().embeddings
        config = self.config
        type_vocab_size = getattr(config, "type_vocab_size", None)
        if "token_type_ids" in arguments and type_vocab_size is None:  # GPT-2 embeds token types with `wte`
            type_vocab_size = table.shape[0]
        cached_ids = "decoder_input_ids" if "decoder_input_ids" in arguments else "input_ids"
        return input_checks.check_model_inputs(arguments, table.shape[0], table.shape[1],
                                               self.max_sequence_length(), self.token_ranks, type_vocab_size,
                                               cached_ids)

    @property
    def backbone(self) -> keras.layers.Layer:
        """The backbone layer, whatever the architecture calls it (`model.bert`, `model.roberta`, ...)."""
        return getattr(self, self.base_model_prefix)

    def build(self, input_shape=None):
        for layer in self.layers:
            if not layer.built:
                layer.build(None)
        if self.config.pruned_heads:  # a pruned model reloads with its pruned shapes
            self.backbone.prune_heads(self.config.pruned_heads)

    def head_paths(self, task: str) -> dict[str, str]:
        """The paths of a task's head layers, from the architecture's weight table."""
        if task not in self.weight_table.heads:
            raise ConfigError(f"{type(self).__name__}: the weight table of {self.base_model_prefix!r} declares no "
                              f"{task!r} head; it declares {sorted(self.weight_table.heads)}.")
        return dict(self.weight_table.heads[task])

    def ignored_on_load(self) -> tuple[list[str], list[str]]:
        """(missing, unexpected) patterns not worth reporting on load: other heads' weights of this architecture,
        the pooler when this task has none, and the table's PyTorch-only keys."""
        table = self.weight_table
        unexpected = list(table.pt_ignore) + table.unused_head_patterns(list(self.tasks))
        pooler = getattr(table.blocks, "pooler", None)
        if pooler is not None and not self.uses_pooler():
            unexpected.append(path_pattern(f"{table.prefix}/{pooler}"))
        missing, extra = super().ignored_on_load()
        return missing + list(table.missing_ok), unexpected + extra

    def pytorch_weights(self) -> list[PTWeight]:
        """The model's weights under its PyTorch class's state-dict keys and shapes (see
        `checkpoints.pytorch_layout`): the backbone's weights and those of this task's heads; a bare model's keys
        without the backbone's prefix, as its PyTorch class has none.

        Example:
            >>> [(w.key, w.shape) for w in model.pytorch_weights()][:1]
            [('bert.embeddings.word_embeddings.weight', (30522, 768))]
        """
        table = self.weight_table
        roots = {strip_model_name(variable.path).split("/")[0] for variable in self.backbone.weights}
        roots |= {path.split("/")[0] for task in self.tasks for path in table.heads.get(task, {}).values()}
        lookup_tables = [layer.embeddings for layer in sublayers(self)
                         if isinstance(layer, (keras.layers.Embedding, TokenEmbedding))]
        return pytorch_weights(self.weights, table, roots, self.base_model_prefix if self.bare_backbone else None,
                               owner=type(self).__name__, lookup_tables=lookup_tables)

    def head_layer(self, name: str) -> keras.layers.Layer:
        """A head's layer by the reference's attribute name for it (`classifier`, `qa_outputs`, `lm_head`,
        `pre_classifier`, ...): the one layer at that checkpoint path, or the head holding the layers under it.
        Tasks and architectures expose these names as attributes (`model.classifier`, see `HeadAttribute`).

        Example:
            >>> model.head_layer("pre_classifier").kernel.shape  # DistilBERT
            TensorShape([32, 32])
        """
        heads = [layer for layer in self.layers if hasattr(layer, "layer_paths")]
        for head in heads:
            under = [sub for sub, path in head.layer_paths().items() if name in path.split("/")[0].split("___")]
            if under:  # one layer at exactly that path (BERT's `classifier`), else the head holding them
                exact = under == [sub for sub, path in head.layer_paths().items() if path == name]
                return getattr(head, under[0]) if exact and len(under) == 1 else head
        known = sorted(path for head in heads for path in head.layer_paths().values())
        raise AttributeError(f"{type(self).__name__} has no head layer {name!r}; its heads' checkpoint paths are "
                             f"{known}.")

    def encode(self, inputs: dict, training) -> dict:
        """The backbone on the model's inputs."""
        return self.backbone(**inputs, training=training)

    @staticmethod
    def finish(output_class, encoded: dict, **fields) -> Any:
        """The task output: logits in float32, plus the backbone's hidden states and attentions."""
        fields = {name: float32_logits(value) if name.endswith("logits") else value for name, value in fields.items()}
        extras = {key: encoded.get(key) for key in ("hidden_states", "attentions")}
        return output_class(**extras, **fields)

    def get_lm_head(self):
        """The language-modelling head (a `MaskedLMHead` or `TiedLMHead`), or None for other tasks."""
        return getattr(self, "lm_head_layer", None)


class BaseModelTask(TaskModel):
    """The bare backbone: its hidden states (and pooled output, where the architecture has a pooler)."""

    bare_backbone = True

    def uses_pooler(self) -> bool:
        return True

    def forward(self, inputs, labels, training):
        return self.encode(inputs, training)

    @unpack_inputs
    def call(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None, head_mask=None,
             inputs_embeds=None, output_attentions=None, output_hidden_states=None, return_dict=None,
             training=False) -> ModelOutput | tuple:
        return self.run_task(locals())


class DecoderCapableModelTask(BaseModelTask):
    """The bare backbone of an encoder family that can also decode (BERT, RoBERTa, ELECTRA with
    `config.is_decoder`): it takes cross-attention inputs and a key/value cache as well."""

    @unpack_inputs
    def call(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None, head_mask=None,
             inputs_embeds=None, encoder_hidden_states=None, encoder_attention_mask=None, past_key_values=None,
             use_cache=None, output_attentions=None, output_hidden_states=None, return_dict=None, training=False,
             cache_position=None) -> ModelOutput | tuple:
        return self.run_task(locals())


class LabelledTaskModel(TaskModel):
    """A task on the BERT family's inputs with one `labels` input: masked LM, sequence and token classification,
    multiple choice."""

    label_names = ("labels",)

    @unpack_inputs
    def call(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None, head_mask=None,
             inputs_embeds=None, output_attentions=None, output_hidden_states=None, return_dict=None, labels=None,
             training=False) -> ModelOutput | tuple:
        return self.run_task(locals())


def masked_lm_head(model: TaskModel, config) -> MaskedLMHead:
    """The architecture's masked-LM head (transform, then the decoder tied to the word embeddings)."""
    return MaskedLMHead(model.backbone.embeddings, config.hidden_size, model.head_paths("masked_lm"),
                        **model.head_settings("masked_lm"), name="lm_head_layer")


class MaskedLMTask(LabelledTaskModel):
    """Masked language modelling: the transform and the decoder tied to the word embeddings. Labels of -100 are
    ignored."""

    tasks = ("masked_lm",)

    def make_heads(self, config) -> None:
        self.lm_head_layer = masked_lm_head(self, config)

    def forward(self, inputs, labels, training):
        encoded = self.encode(inputs, training)
        logits = self.lm_head_layer(encoded["last_hidden_state"])
        loss = None if labels["labels"] is None else losses.masked_lm_loss(labels["labels"], logits)
        return self.finish(TFMaskedLMOutput, encoded, loss=loss, logits=logits)

    def get_output_embeddings(self):
        """The word embeddings: the decoder is tied to them."""
        return self.get_input_embeddings()


class CausalLMTask(TaskModel):
    """What every causal language model shares: the next-token loss (labels shifted inside; -100 ignored), the
    key/value cache and `generate()`. Subclasses create the LM head (`lm_head_layer`)."""

    label_names = ("labels",)

    @classmethod
    def can_generate(cls) -> bool:
        """True: `generate()` decodes with the key/value cache."""
        return True

    def forward(self, inputs, labels, training):
        encoded = self.encode(inputs, training)
        logits = self.lm_head_layer(encoded["last_hidden_state"])
        loss = None if labels["labels"] is None else losses.causal_lm_loss(labels["labels"], logits)
        return TFCausalLMOutputWithCrossAttentions(
            loss=loss, logits=float32_logits(logits), past_key_values=encoded.get("past_key_values"),
            hidden_states=encoded.get("hidden_states"), attentions=encoded.get("attentions"),
            cross_attentions=encoded.get("cross_attentions"),
        )

    def init_generation_cache(self, batch_size, max_length: int) -> tuple[tf.Tensor, ...]:
        """A zero key/value cache of `max_length` slots per layer (`[2, batch, kv_heads, max_length, head_dim]`,
        with each layer's heads: pruning removes some), filled in place at `cache_position`."""
        stack = self.backbone.stack
        attentions = [stack.layer[blocks[-1]].attention for blocks in stack.schedule]
        return tuple(tf.zeros([2, batch_size, attention.num_kv_heads, max_length, attention.head_dim],
                              self.compute_dtype) for attention in attentions)

    def generation_forward(self, input_ids, attention_mask, position_ids, cache, cache_position,
                           encoder_outputs=None, encoder_attention_mask=None):
        """One cached pass for `generate`: `(next-token logits [batch, vocab], cache)`."""
        if not getattr(self.backbone, "causal", True):
            raise ValueError(f"{type(self).__name__} cannot generate with is_decoder=False in its config: it would "
                             "attend to later tokens. Load it with is_decoder=True.")
        # RoBERTa-style embeddings count positions from padding_idx + 1; GPT-2's backbone has no `embeddings`.
        padding_idx = getattr(getattr(self.backbone, "embeddings", None), "padding_idx", None)
        if padding_idx is not None:
            position_ids = position_ids + padding_idx + 1
        encoded = self.backbone(input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
                                past_key_values=cache, cache_position=cache_position, use_cache=True,
                                encoder_hidden_states=encoder_outputs, encoder_attention_mask=encoder_attention_mask,
                                training=False)
        logits = self.lm_head_layer(encoded["last_hidden_state"][:, -1:, :])[:, -1, :]
        return float32_logits(logits), tuple(encoded["past_key_values"])


class EncoderCausalLMTask(CausalLMTask):
    """An encoder family run left to right (`config.is_decoder=True`) with its masked-LM head: cross-attention to
    `encoder_hidden_states` when `config.add_cross_attention` (BERT's and RoBERTa's causal LMs)."""

    tasks = ("masked_lm",)

    def make_heads(self, config) -> None:
        if not getattr(config, "is_decoder", True):
            logger.warning("%s is a decoder: without is_decoder=True in its config it attends both ways and cannot "
                           "generate. Pass is_decoder=True to the config or to from_pretrained.", type(self).__name__)
        self.lm_head_layer = masked_lm_head(self, config)

    def get_output_embeddings(self):
        """The word embeddings: the decoder is tied to them."""
        return self.get_input_embeddings()

    @unpack_inputs
    def call(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None, head_mask=None,
             inputs_embeds=None, encoder_hidden_states=None, encoder_attention_mask=None, past_key_values=None,
             use_cache=None, output_attentions=None, output_hidden_states=None, return_dict=None, labels=None,
             training=False, cache_position=None) -> ModelOutput | tuple:
        return self.run_task(locals())


class TiedCausalLMTask(CausalLMTask):
    """Causal language modelling with the LM head tied to the token embeddings and nothing else (GPT-2)."""

    tasks = ("causal_lm",)

    def make_heads(self, config) -> None:
        self.lm_head_layer = TiedLMHead(self.backbone.get_input_embeddings(), name="lm_head_layer")


class DecoderLMTask(CausalLMTask):
    """Causal language modelling with a decoder family's `lm_head` (untied, without bias; the token embeddings with
    `tie_word_embeddings`): Llama, Mistral, Qwen2."""

    tasks = ("causal_lm",)

    def make_heads(self, config) -> None:
        tied = self.backbone.get_input_embeddings() if config.tie_word_embeddings else None
        self.lm_head_layer = LMHead(config.vocab_size, config.hidden_size, self.head_paths("causal_lm")["lm_head"],
                                    tied, config.initializer_range, name="lm_head_layer")

    @property
    def lm_head(self) -> keras.layers.Layer:
        """The `lm_head` projection (the reference's attribute), or, tied, the head over the token embeddings."""
        return self.lm_head_layer.lm_head or self.lm_head_layer

    def get_output_embeddings(self):
        """The `lm_head` (or, tied, the token embeddings)."""
        return self.lm_head_layer.get_output_embeddings()


class MoECausalLMTask(DecoderLMTask):
    """Causal language modelling with a mixture of experts (Mixtral): when the backbone returns its routers' logits
    (`output_router_logits`), the load-balancing `aux_loss`, added to the loss times `config.router_aux_loss_coef`
    when labels are given, as the reference."""

    def forward(self, inputs, labels, training):
        encoded = self.encode(inputs, training)
        logits = self.lm_head_layer(encoded["last_hidden_state"])
        loss = None if labels["labels"] is None else losses.causal_lm_loss(labels["labels"], logits)
        aux_loss = None
        if encoded.get("router_logits") is not None:
            aux_loss = losses.load_balancing_loss(encoded["router_logits"], self.config.num_local_experts,
                                                  self.config.num_experts_per_tok, inputs.get("attention_mask"))
            if loss is not None:
                loss = loss + self.config.router_aux_loss_coef * aux_loss
        return TFMoeCausalLMOutputWithPast(
            loss=loss, aux_loss=aux_loss, logits=float32_logits(logits),
            past_key_values=encoded.get("past_key_values"), hidden_states=encoded.get("hidden_states"),
            attentions=encoded.get("attentions"), router_logits=encoded.get("router_logits"))


class SequenceClassificationTask(LabelledTaskModel):
    """A classifier (or regressor) for the whole sequence; the loss follows `config.problem_type`."""

    tasks = ("sequence_classification",)

    def uses_pooler(self) -> bool:
        return self.head_settings("sequence_classification").get("style") == "pooled"

    def make_heads(self, config) -> None:
        settings = self.head_settings("sequence_classification")
        self.classifier_head = ClassifierHead(units=config.num_labels, hidden_size=config.hidden_size,
                                              paths=self.head_paths("sequence_classification"), **settings,
                                              name="classifier_head")

    classifier = HeadAttribute()

    def forward(self, inputs, labels, training):
        encoded = self.encode(inputs, training)
        logits = self.classifier_head(encoded["last_hidden_state"], encoded.get("pooler_output"), training=training)
        loss = None
        if labels["labels"] is not None:
            loss = losses.sequence_classification_loss(labels["labels"], logits, self.config.problem_type)
        return self.finish(TFSequenceClassifierOutput, encoded, loss=loss, logits=logits)


class MultipleChoiceTask(LabelledTaskModel):
    """One score per choice: inputs `[batch, num_choices, seq]`, logits `[batch, num_choices]`."""

    token_ranks = (3,)
    tasks = ("multiple_choice",)

    def uses_pooler(self) -> bool:
        return self.head_settings("multiple_choice").get("style") == "pooled"

    def make_heads(self, config) -> None:
        self.classifier_head = ClassifierHead(units=1, hidden_size=config.hidden_size,
                                              paths=self.head_paths("multiple_choice"),
                                              **self.head_settings("multiple_choice"), name="classifier_head")

    classifier = HeadAttribute()

    def forward(self, inputs, labels, training):
        flat, choices = flatten_choices(inputs)
        num_choices = choices[1]
        encoded = self.encode(flat, training)
        logits = self.classifier_head(encoded["last_hidden_state"], encoded.get("pooler_output"), training=training)
        logits = tf.reshape(logits, (-1, num_choices))
        loss = None if labels["labels"] is None else losses.single_label_loss(labels["labels"], logits)
        return self.finish(TFMultipleChoiceModelOutput, encoded, loss=loss, logits=logits)

    @property
    def input_signature(self) -> dict[str, tf.TensorSpec]:
        parameters = inspect.signature(self.call).parameters
        return {name: tf.TensorSpec([None, None, None], tf.int32, name=name)
                for name in ("input_ids", "attention_mask", "token_type_ids") if name in parameters}


class TokenClassificationTask(LabelledTaskModel):
    """A classifier on every token (NER, POS); labels of -100 are ignored."""

    tasks = ("token_classification",)

    def make_heads(self, config) -> None:
        self.classifier_head = TokenHead(config.num_labels, config.hidden_size,
                                         self.head_paths("token_classification")["classifier"],
                                         **self.head_settings("token_classification"), name="classifier_head")

    classifier = HeadAttribute()

    def forward(self, inputs, labels, training):
        encoded = self.encode(inputs, training)
        logits = self.classifier_head(encoded["last_hidden_state"], training=training)
        loss = None if labels["labels"] is None else losses.token_classification_loss(labels["labels"], logits)
        return self.finish(TFTokenClassifierOutput, encoded, loss=loss, logits=logits)


class QuestionAnsweringTask(TaskModel):
    """Span start and end logits (`qa_outputs`); the loss is the mean of the start and end cross entropies."""

    label_names = ("start_positions", "end_positions")
    tasks = ("question_answering",)

    def make_heads(self, config) -> None:
        if config.num_labels != 2:
            raise ConfigError(f"Question answering predicts a start and an end logit: num_labels must be 2; the "
                              f"config has {config.num_labels}.")
        self.qa_head = TokenHead(2, config.hidden_size, self.head_paths("question_answering")["qa_outputs"],
                                 **self.head_settings("question_answering"), name="qa_head")

    qa_outputs = HeadAttribute()

    def forward(self, inputs, labels, training):
        encoded = self.encode(inputs, training)
        start_logits, end_logits = tf.unstack(self.qa_head(encoded["last_hidden_state"], training=training), 2, -1)
        loss = None
        if labels["start_positions"] is not None and labels["end_positions"] is not None:
            loss = losses.question_answering_loss(labels["start_positions"], labels["end_positions"], start_logits,
                                                  end_logits)
        return self.finish(TFQuestionAnsweringModelOutput, encoded, loss=loss, start_logits=start_logits,
                           end_logits=end_logits)

    @unpack_inputs
    def call(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None, head_mask=None,
             inputs_embeds=None, output_attentions=None, output_hidden_states=None, return_dict=None,
             start_positions=None, end_positions=None, training=False) -> ModelOutput | tuple:
        return self.run_task(locals())


def _sentence_pair_head(model: TaskModel, config, task: str) -> ClassifierHead:
    """The two-way classifier on the pooled output of the next-sentence and sentence-order tasks."""
    settings = {"dropout": 0.0, "units": 2, **model.head_settings(task)}
    return ClassifierHead("pooled", hidden_size=config.hidden_size, paths=model.head_paths(task), **settings,
                          name="sentence_head")


class SentencePairTask(TaskModel):
    """A two-way classifier on the pooled output: BERT's next-sentence prediction (label 0: B follows A)."""

    label_names = ("next_sentence_label",)
    tasks = ("next_sentence",)

    def uses_pooler(self) -> bool:
        return True

    def make_heads(self, config) -> None:
        self.sentence_head = _sentence_pair_head(self, config, "next_sentence")

    def forward(self, inputs, labels, training):
        encoded = self.encode(inputs, training)
        logits = self.sentence_head(encoded["last_hidden_state"], encoded["pooler_output"], training=training)
        label = labels["next_sentence_label"]
        loss = None if label is None else losses.next_sentence_loss(label, logits)
        return self.finish(TFNextSentencePredictorOutput, encoded, loss=loss, logits=logits)

    @unpack_inputs
    def call(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None, head_mask=None,
             inputs_embeds=None, output_attentions=None, output_hidden_states=None, return_dict=None,
             next_sentence_label=None, training=False) -> ModelOutput | tuple:
        return self.run_task(locals())


class MaskedLMAndSentenceTask(TaskModel):
    """Pre-training with a masked-LM head and a sentence-pair head on the pooled output; the loss is their sum.
    `sentence_task` picks the pair head: BERT's `next_sentence` or ALBERT's `sentence_order`;
    `sentence_head_first` its place in the variable order (BERT creates it before the LM head, ALBERT after)."""

    sentence_task = "next_sentence"
    sentence_output = "seq_relationship_logits"
    sentence_head_first = True
    output_class = TFBertForPreTrainingOutput
    label_names = ("labels", "next_sentence_label")
    tasks = ("masked_lm", "next_sentence")

    def uses_pooler(self) -> bool:
        return True

    def make_heads(self, config) -> None:
        if self.sentence_head_first:
            self.sentence_head = _sentence_pair_head(self, config, self.sentence_task)
        self.lm_head_layer = masked_lm_head(self, config)
        if not self.sentence_head_first:
            self.sentence_head = _sentence_pair_head(self, config, self.sentence_task)

    def get_output_embeddings(self):
        """The word embeddings: the masked-LM decoder is tied to them."""
        return self.get_input_embeddings()

    def forward(self, inputs, labels, training):
        encoded = self.encode(inputs, training)
        prediction_logits = self.lm_head_layer(encoded["last_hidden_state"])
        sentence_logits = self.sentence_head(encoded["last_hidden_state"], encoded["pooler_output"],
                                             training=training)
        mlm_labels, sentence_labels = (labels[name] for name in self.label_names)
        loss = None
        if mlm_labels is not None and sentence_labels is not None:
            loss = (losses.masked_lm_loss(mlm_labels, prediction_logits)
                    + losses.single_label_loss(sentence_labels, sentence_logits))
        return self.finish(self.output_class, encoded, loss=loss, prediction_logits=prediction_logits,
                           **{self.sentence_output: sentence_logits})

    @unpack_inputs
    def call(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None, head_mask=None,
             inputs_embeds=None, output_attentions=None, output_hidden_states=None, return_dict=None, labels=None,
             next_sentence_label=None, training=False) -> ModelOutput | tuple:
        return self.run_task(locals())


class ReplacedTokenDetectionTask(TaskModel):
    """ELECTRA's discriminator: one logit per token, 1 for a replaced token; the loss is the binary cross entropy
    over the tokens of `attention_mask`. The reference takes no labels: ours come after `training`."""

    label_names = ("labels",)
    tasks = ("replaced_token_detection",)

    def make_heads(self, config) -> None:
        self.discriminator_head = TokenScoreHead(config.hidden_size, self.head_paths("replaced_token_detection"),
                                                 **self.head_settings("replaced_token_detection"),
                                                 name="discriminator_head")

    def forward(self, inputs, labels, training):
        encoded = self.encode(inputs, training)
        logits = float32_logits(self.discriminator_head(encoded["last_hidden_state"]))
        loss = None
        if labels["labels"] is not None:
            loss = losses.replaced_token_loss(labels["labels"], logits, inputs.get("attention_mask"))
        return self.finish(TFElectraForPreTrainingOutput, encoded, loss=loss, logits=logits)

    @unpack_inputs
    def call(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None, head_mask=None,
             inputs_embeds=None, output_attentions=None, output_hidden_states=None, return_dict=None,
             training=False, labels=None) -> ModelOutput | tuple:
        return self.run_task(locals())


class LastTokenClassificationTask(TaskModel):
    """Sequence classification from the last non-padding token; the loss follows `config.problem_type`."""

    label_names = ("labels",)
    tasks = ("sequence_classification",)

    def make_heads(self, config) -> None:
        self.score_head = LastTokenScore(config.num_labels, config.hidden_size,
                                         self.head_paths("sequence_classification")["score"], config.pad_token_id,
                                         config.initializer_range, name="score_head")

    score = HeadAttribute()

    def forward(self, inputs, labels, training):
        encoded = self.encode(inputs, training)
        logits = float32_logits(self.score_head(encoded["last_hidden_state"], inputs.get("input_ids")))
        loss = None
        if labels["labels"] is not None:
            loss = losses.sequence_classification_loss(labels["labels"], logits, self.config.problem_type)
        return TFSequenceClassifierOutputWithPast(loss=loss, logits=logits, past_key_values=encoded.get(
            "past_key_values"), hidden_states=encoded.get("hidden_states"), attentions=encoded.get("attentions"))


class DoubleHeadsTask(TaskModel):
    """The tied LM head on every choice's tokens and a `SequenceSummary` score per choice: inputs
    `[batch, choices, seq]` with `mc_token_ids` `[batch, choices]`, or, as the reference also accepts, one choice
    per row: `[batch, seq]` with `mc_token_ids` `[batch]`. `loss` is per example: the LM loss of its choices
    (labels shifted inside) plus its multiple-choice loss, each when its labels are given, so that its mean is
    PyTorch's `loss + mc_loss`."""

    token_ranks = (2, 3)
    label_names = ("labels", "mc_labels")
    tasks = ("multiple_choice",)

    def make_heads(self, config) -> None:
        self.lm_head_layer = TiedLMHead(self.backbone.get_input_embeddings(), name="lm_head_layer")
        self.multiple_choice_head = SequenceSummary(config, self.head_paths("multiple_choice")["summary"],
                                                    num_labels=1, name="multiple_choice_head")

    def forward(self, inputs, labels, training):
        inputs = dict(inputs)
        mc_token_ids = inputs.pop("mc_token_ids")
        ids = inputs.get("input_ids")
        # The leading dimensions: [batch, choices], or [batch] for one choice per row.
        rank = ids.shape.rank - 1 if ids is not None else inputs["inputs_embeds"].shape.rank - 2
        if rank not in (1, 2):
            raise ValueError(f"{type(self).__name__} takes input_ids [batch, choices, seq] or [batch, seq]; received "
                             f"rank {rank + 1}.")
        leading = (tf.shape(ids)[:-1] if ids is not None else tf.shape(inputs["inputs_embeds"])[:-2])
        inputs, _ = flatten_choices(inputs)
        encoded = self.encode(inputs, training)
        flat = encoded["last_hidden_state"]
        flat_logits = float32_logits(self.lm_head_layer(flat))
        hidden = tf.reshape(flat, tf.concat([leading, tf.shape(flat)[1:]], 0))
        mc_logits = float32_logits(self.multiple_choice_head(hidden, mc_token_ids, training=training))
        if mc_logits.shape[-1] == 1:
            mc_logits = tf.squeeze(mc_logits, -1)
        loss = None
        if labels["labels"] is not None:
            flat_labels = tf.reshape(labels["labels"], (-1, tf.shape(labels["labels"])[-1]))
            loss = tf.reshape(losses.causal_lm_loss(flat_labels, flat_logits), leading)
            loss = tf.reduce_mean(loss, axis=1) if rank == 2 else loss
        if labels["mc_labels"] is not None:
            if rank == 1:
                raise ValueError("mc_labels score one choice among several: pass input_ids [batch, choices, seq] "
                                 "with mc_token_ids [batch, choices]; received one choice per row [batch, seq].")
            mc_loss = losses.single_label_loss(labels["mc_labels"], mc_logits)
            loss = mc_loss if loss is None else loss + mc_loss
        all_hidden = encoded.get("hidden_states")
        return TFGPT2DoubleHeadsModelOutput(
            loss=loss, logits=tf.reshape(flat_logits, tf.concat([leading, tf.shape(flat_logits)[1:]], 0)),
            mc_logits=mc_logits, past_key_values=encoded.get("past_key_values"),
            # As the reference: the last hidden state per choice, the others as the decoder saw them.
            hidden_states=None if all_hidden is None else all_hidden[:-1] + (hidden,),
            attentions=encoded.get("attentions"),
        )


class ImageTaskModel(TaskModel):
    """A model on images: `pixel_values` `[batch, channels, height, width]` (floats, as the image processor
    writes them) instead of token ids. The architecture's config has `image_size`, `patch_size`, `num_channels`.

    Example:
        >>> model({"pixel_values": processor(images)["pixel_values"]}).logits
    """

    main_input_name = "pixel_values"

    @property
    def vision_config(self):
        """The config with the image sizes: the model's own (CLIP's is its `vision_config`)."""
        return self.config

    def check_inputs(self, arguments: dict[str, Any]) -> dict[str, Any]:
        config = self.vision_config
        return input_checks.check_pixel_values(arguments, config.num_channels, config.image_size, config.patch_size)

    def max_sequence_length(self) -> int | None:
        return None

    @property
    def input_signature(self) -> dict[str, tf.TensorSpec]:
        """`pixel_values`: float32 `[batch, channels, image_size, image_size]`."""
        config = self.vision_config
        return {"pixel_values": tf.TensorSpec([None, config.num_channels, config.image_size, config.image_size],
                                              tf.float32, name="pixel_values")}

    def make_dummy_inputs(self, batch_size: int = 1, length: int = 2, num_choices: int = 2) -> dict[str, tf.Tensor]:
        """`batch_size` images of the config's size, a ramp of values from -1 to 1 (`length` and `num_choices`
        are for text models and unused here)."""
        spec = self.input_signature["pixel_values"]
        shape = [batch_size, *spec.shape[1:]]
        ramp = tf.linspace(-1.0, 1.0, int(np.prod(shape)))
        return {"pixel_values": tf.reshape(ramp, shape)}

    def resize_token_embeddings(self, new_num_tokens: int | None = None):
        raise NotImplementedError(f"{type(self).__name__} reads images: it has no token embeddings to resize.")

    def get_input_embeddings(self) -> keras.layers.Layer:
        """The patch embeddings (as the reference's `get_input_embeddings` of vision models)."""
        return self.backbone.embeddings.patch_embeddings

    # ---- the image processor that travels with the model --------------------------------------------------------
    def default_image_processor(self) -> ImageProcessor:
        """The processor of a checkpoint without `preprocessor_config.json`: the architecture's reference defaults
        at the config's image size (architectures override it)."""
        return ImageProcessor(size=self.vision_config.image_size)

    @property
    def image_processor(self) -> ImageProcessor:
        """The checkpoint's image processor (`preprocessor_config.json`), else `default_image_processor()`; set it
        to change what `save_pretrained` writes and what the export's `serving_image_bytes` runs.

        Example:
            >>> model.image_processor = ImageProcessor(size=384, image_mean=[0.485, 0.456, 0.406],
            ...                                        image_std=[0.229, 0.224, 0.225])
        """
        if self.runtime_state.preprocessor is None:  # made once: prepare_tf_dataset reads it every batch
            self.runtime_state.preprocessor = self.default_image_processor()
        return self.runtime_state.preprocessor

    @image_processor.setter
    def image_processor(self, processor: ImageProcessor) -> None:
        if not isinstance(processor, ImageProcessor):
            raise TypeError(f"image_processor must be a tfmodels ImageProcessor; received {type(processor).__name__}.")
        self.runtime_state.preprocessor = processor

    def side_files(self) -> dict[str, str]:
        return {PREPROCESSOR_CONFIG: self.image_processor.to_json_string()}

    def read_side_files(self, find) -> None:
        file = find(PREPROCESSOR_CONFIG)
        if file is not None:
            self.image_processor = ImageProcessor.from_pretrained(file)

    def raw_input_serving_functions(self) -> dict[str, tuple]:
        """Export signatures on what a client has: `serving_image_bytes` takes encoded images (`images`, `tf.string`
        `[batch]`: PNG, JPEG, GIF, BMP), processes them with `image_processor` in the graph and returns
        `serving_default`'s outputs. `serving.export_saved_model` adds it to the export."""
        processor = self.image_processor
        if processor.output_size is None:
            logger.warning("%s's image processor resizes to each image's own size (shortest_edge without a crop); "
                           "the export has no serving_image_bytes signature.", type(self).__name__)
            return {}

        def serving_image_bytes(inputs):
            return self.serving({"pixel_values": processor.process_encoded(inputs["images"])})

        return {"serving_image_bytes": (serving_image_bytes, [{"images": tf.TensorSpec([None], tf.string,
                                                                                     name="images")}])}

    def raw_check_inputs(self) -> list[dict[str, np.ndarray]]:
        """Inputs the export verifies `serving_image_bytes` on: two generated images (gradients with a block of
        colour, of two sizes other than the model's), PNG-encoded."""
        images = []
        for height, width in ((37, 52), (61, 45)):
            rows, columns = np.mgrid[0:height, 0:width]
            image = np.stack([rows * 255 // height, columns * 255 // width, (rows + columns) % 256], -1)
            image[height // 4:height // 2, width // 3:width // 2] = [250, 30, 30]
            images.append(tf.io.encode_png(image.astype(np.uint8)).numpy())
        return [{"images": np.array(images)}]


class ImageBaseModelTask(ImageTaskModel):
    """The bare vision backbone: its hidden states and pooled output."""

    bare_backbone = True

    def uses_pooler(self) -> bool:
        return True

    def forward(self, inputs, labels, training):
        return self.encode(inputs, training)


class ImageClassificationTask(ImageTaskModel):
    """A classifier (or regressor) on the class token's final state; the loss follows `config.problem_type`."""

    label_names = ("labels",)
    tasks = ("image_classification",)

    def make_heads(self, config) -> None:
        self.classifier_head = TokenHead(config.num_labels, config.hidden_size,
                                         self.head_paths("image_classification")["classifier"],
                                         name="classifier_head")

    classifier = HeadAttribute()

    def forward(self, inputs, labels, training):
        encoded = self.encode(inputs, training)
        logits = self.classifier_head(encoded["last_hidden_state"][:, 0], training=training)
        loss = None
        if labels["labels"] is not None:
            loss = losses.sequence_classification_loss(labels["labels"], logits, self.config.problem_type)
        return self.finish(TFSequenceClassifierOutput, encoded, loss=loss, logits=logits)
