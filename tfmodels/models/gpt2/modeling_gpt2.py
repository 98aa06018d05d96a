"""GPT-2: the decoder assembled from the kit (pre-norm layers with fused `c_attn`, under `transformer/h_._{i}`), and
its classes: the bare decoder, the LM head tied to `wte`, the double-heads model and sequence classification."""

from __future__ import annotations

import keras
import tensorflow as tf

from tfmodels.errors import ConfigError
from tfmodels.layers import losses
from tfmodels.layers.core import get_activation, get_initializer, head_mask_5d
from tfmodels.layers.embeddings import TokenEmbedding
from tfmodels.layers.encoder import cached_length, self_attention_bias
from tfmodels.layers.paths import Group, build_at, leaf
from tfmodels.layers.transformer import GroupedTransformerStack, LayerSpec
from tfmodels.modeling import float32_logits
from tfmodels.modeling_outputs import (
    TFBaseModelOutputWithPastAndCrossAttentions,
    TFGPT2DoubleHeadsModelOutput,
    TFSequenceClassifierOutputWithPast,
)
from tfmodels.models.gpt2.configuration_gpt2 import GPT2Config
from tfmodels.models.gpt2.weights_gpt2 import GPT2_WEIGHTS, DecoderLayout
from tfmodels.tasks import BaseModelTask, CausalLMTask, TaskModel, flatten_choices

# The reference's inputs, in its order (GPT-2 declares its cache inputs itself; it has no cross-attention).
GPT2_INPUTS = ("input_ids", "past_key_values", "attention_mask", "token_type_ids", "position_ids", "head_mask",
               "inputs_embeds", "use_cache")


def gpt2_layer_spec(config) -> LayerSpec:
    """GPT-2's pre-norm transformer layer with `Conv1D` projections."""
    return LayerSpec(
        hidden_size=config.n_embd, num_heads=config.n_head,
        intermediate_size=config.n_inner if config.n_inner is not None else 4 * config.n_embd,
        activation=config.activation_function, hidden_dropout=config.resid_pdrop, attention_dropout=config.attn_pdrop,
        layer_norm_eps=config.layer_norm_epsilon, initializer_range=config.initializer_range, norm_first=True,
        linear="conv1d", scale_attention=config.scale_attn_weights,
        scale_by_inverse_layer_index=config.scale_attn_by_inverse_layer_idx,
    )


class GPT2Backbone(keras.layers.Layer):
    """The GPT-2 decoder (`transformer` in checkpoints): token and position embeddings (token types are embedded
    with `wte`), the pre-norm layers and the final LayerNorm. The causal and padding biases are computed once per
    pass; `past_key_values` is appended to, or with `cache_position` a preallocated cache written in place.

    Example:
        >>> backbone = GPT2Backbone(GPT2_WEIGHTS.blocks, GPT2Config(n_layer=2), name="transformer")
        >>> backbone(input_ids=ids, use_cache=True)["past_key_values"]
    """

    def __init__(self, layout: DecoderLayout, config: GPT2Config, **kwargs):
        super().__init__(**kwargs)
        if config.add_cross_attention:
            raise ConfigError("GPT-2 with cross-attention (add_cross_attention=True) is not supported; use a config "
                              "with add_cross_attention=False.")
        self.layout, self.hidden_size, self.num_steps = layout, config.n_embd, config.n_layer
        init = config.initializer_range
        self.wte = TokenEmbedding(config.vocab_size, config.n_embd, init, name=leaf(layout.tokens))
        self.wpe = TokenEmbedding(config.n_positions, config.n_embd, init, name=leaf(layout.positions))
        self.drop = keras.layers.Dropout(config.embd_pdrop, name="drop")
        paths = [layout.layer.format(i=i) for i in range(config.n_layer)]
        self.h = GroupedTransformerStack(gpt2_layer_spec(config), layout.layer_names, paths, name="h")
        self.ln_f = keras.layers.LayerNormalization(epsilon=config.layer_norm_epsilon, name=leaf(layout.final_norm))

    def build(self, input_shape=None):
        build_at(self.wte, self.layout.tokens)
        build_at(self.wpe, self.layout.positions)
        self.h.build(None)
        build_at(self.ln_f, self.layout.final_norm, (None, None, self.hidden_size))

    def get_input_embeddings(self) -> TokenEmbedding:
        """The token embeddings `wte`."""
        return self.wte

    def call(self, input_ids=None, past_key_values=None, attention_mask=None, token_type_ids=None,
             position_ids=None, head_mask=None, inputs_embeds=None, use_cache=False, output_attentions=False,
             output_hidden_states=False, training=False, cache_position=None, encoder_hidden_states=None,
             encoder_attention_mask=None):
        if input_ids is not None and inputs_embeds is not None:
            raise ValueError("Pass either input_ids or inputs_embeds, not both.")
        if input_ids is None and inputs_embeds is None:
            raise ValueError("Pass input_ids or inputs_embeds.")
        if encoder_hidden_states is not None:
            raise ValueError("GPT-2 has no cross-attention: encoder_hidden_states cannot be used.")
        if inputs_embeds is None:
            inputs_embeds = self.wte(input_ids)
        past_length = cached_length(past_key_values, cache_position)
        if position_ids is None:
            position_ids = tf.range(past_length, past_length + tf.shape(inputs_embeds)[1])[None, :]
        hidden_states = inputs_embeds + self.wpe(position_ids)
        if token_type_ids is not None:
            hidden_states = hidden_states + self.wte(token_type_ids)
        hidden_states = self.drop(hidden_states, training=training)
        bias = self_attention_bias(hidden_states, attention_mask, past_length, past_key_values, cache_position,
                                   causal=True)
        stacked = self.h(hidden_states, attention_bias=bias, head_masks=head_mask_5d(head_mask, self.num_steps),
                         past_key_values=past_key_values, cache_position=cache_position, use_cache=use_cache,
                         output_attentions=output_attentions, output_hidden_states=output_hidden_states,
                         training=training)
        last = self.ln_f(stacked["last_hidden_state"])
        return TFBaseModelOutputWithPastAndCrossAttentions(
            last_hidden_state=last, past_key_values=stacked["past_key_values"],
            hidden_states=stacked["hidden_states"][:-1] + (last,) if output_hidden_states else None,
            attentions=stacked["attentions"],
        )


class TiedLMHead(Group):
    """A language-modelling head that is the token embeddings' transpose alone (no weights, no bias).

    Example:
        >>> logits = TiedLMHead(backbone.wte, name="lm_head_layer")(hidden_states)  # [batch, seq, vocab]
    """

    def __init__(self, embeddings: TokenEmbedding, **kwargs):
        super().__init__(**kwargs)
        self.embeddings = embeddings

    def call(self, hidden_states):
        return self.embeddings.attend(hidden_states)

    def get_output_embeddings(self) -> TokenEmbedding:
        return self.embeddings

    def get_bias(self) -> None:
        return None

    def set_bias(self, value) -> None:
        raise NotImplementedError("GPT-2's LM head has no bias to set: its logits are the tied embeddings' alone.")

    def resize_bias(self, new_num_tokens: int) -> None:
        """Nothing to resize: the head follows the embeddings."""


class SequenceSummary(Group):
    """The reference's `SequenceSummary` (GPT-2's multiple-choice head): one hidden state per sequence
    (`summary_type` `cls_index`: the token at `cls_index`, default the last), dropout (`summary_first_dropout`),
    the `summary` projection (to `num_labels` with `summary_proj_to_labels`, else to the hidden size; none
    without `summary_use_proj`), `summary_activation`, dropout (`summary_last_dropout`). As in the reference,
    `last`, `first` and `mean` read the second axis: of the double-heads model's `[batch, choices, seq, hidden]`,
    the choices.

    Example:
        >>> head = SequenceSummary(config, "multiple_choice_head/summary", name="multiple_choice_head")
        >>> head(hidden_states, mc_token_ids)  # [batch, choices, seq, hidden] -> [batch, choices, 1]
    """

    TYPES = ("cls_index", "last", "first", "mean")

    def __init__(self, config, path: str, **kwargs):
        super().__init__(**kwargs)
        if config.summary_type not in self.TYPES:
            raise ConfigError(f"summary_type={config.summary_type!r} is not supported; use one of {self.TYPES}.")
        self.summary_type, self.summary_path, self.hidden_size = config.summary_type, path, config.hidden_size
        self.first_dropout = keras.layers.Dropout(config.summary_first_dropout, name="first_dropout")
        self.summary = None
        if config.summary_use_proj:
            to_labels = config.summary_proj_to_labels and config.num_labels > 0
            self.summary = keras.layers.Dense(config.num_labels if to_labels else config.hidden_size,
                                              kernel_initializer=get_initializer(config.initializer_range),
                                              name=leaf(path))
        self.activation = get_activation(config.summary_activation) if config.summary_activation else None
        self.last_dropout = keras.layers.Dropout(getattr(config, "summary_last_dropout", 0.0), name="last_dropout")

    def layer_paths(self) -> dict[str, str]:
        """Attribute name -> checkpoint path of this head's layers."""
        return {} if self.summary is None else {"summary": self.summary_path}

    def build(self, input_shape=None):
        if self.summary is not None:
            build_at(self.summary, self.summary_path, (None, self.hidden_size))

    def call(self, hidden_states, cls_index=None, training=False):
        if self.summary_type == "last":
            output = hidden_states[:, -1]
        elif self.summary_type == "first":
            output = hidden_states[:, 0]
        elif self.summary_type == "mean":
            output = tf.reduce_mean(hidden_states, axis=1)
        else:
            shape = tf.shape(hidden_states)
            if cls_index is None:
                cls_index = tf.fill(shape[:-2], shape[-2] - 1)
            output = tf.gather(hidden_states, tf.cast(cls_index, tf.int32), batch_dims=hidden_states.shape.rank - 2)
        output = self.first_dropout(output, training=training)
        if self.summary is not None:
            output = self.summary(output)
        if self.activation is not None:
            output = self.activation(output)
        return self.last_dropout(output, training=training)


class LastTokenScore(Group):
    """GPT-2's sequence classifier: `score` (no bias) read at each row's last non-padding token (the last token
    without `pad_token_id` or without `input_ids`).

    Example:
        >>> LastTokenScore(3, 768, "score", pad_token_id=50256, name="score_head")(hidden_states, input_ids)
    """

    def __init__(self, units: int, hidden_size: int, path: str, pad_token_id: int | None,
                 initializer_range: float = 0.02, **kwargs):
        super().__init__(**kwargs)
        self.score_path, self.hidden_size, self.pad_token_id = path, hidden_size, pad_token_id
        self.score = keras.layers.Dense(units, use_bias=False, kernel_initializer=get_initializer(initializer_range),
                                        name=leaf(path))

    def layer_paths(self) -> dict[str, str]:
        """Attribute name -> checkpoint path of this head's layers."""
        return {"score": self.score_path}

    def build(self, input_shape=None):
        build_at(self.score, self.score_path, (None, None, self.hidden_size))

    def call(self, hidden_states, input_ids=None):
        logits = self.score(hidden_states)
        length = tf.shape(logits)[1]
        if input_ids is not None and self.pad_token_id is not None:
            not_pad = tf.cast(tf.not_equal(input_ids, self.pad_token_id), tf.int32)
            last = tf.argmax(tf.range(length)[None, :] * not_pad, axis=-1, output_type=tf.int32)
        else:
            last = tf.fill(tf.shape(logits)[:1], length - 1)
        return tf.gather(logits, last, batch_dims=1)


class TiedCausalLMTask(CausalLMTask):
    """Causal language modelling with the LM head tied to the token embeddings and nothing else."""

    def make_heads(self, config) -> None:
        self.lm_head_layer = TiedLMHead(self.backbone.get_input_embeddings(), name="lm_head_layer")


class LastTokenClassificationTask(TaskModel):
    """Sequence classification from the last non-padding token; the loss follows `config.problem_type`."""

    label_names = ("labels",)
    tasks = ("sequence_classification",)

    def make_heads(self, config) -> None:
        self.score_head = LastTokenScore(config.num_labels, config.hidden_size,
                                         self.head_paths("sequence_classification")["score"], config.pad_token_id,
                                         config.initializer_range, name="score_head")

    def forward(self, inputs, labels, training):
        encoded = self.encode(inputs, training)
        logits = float32_logits(self.score_head(encoded["last_hidden_state"], inputs.get("input_ids")))
        loss = None
        if labels["labels"] is not None:
            loss = losses.sequence_classification_loss(labels["labels"], logits, self.config.problem_type)
        return TFSequenceClassifierOutputWithPast(loss=loss, logits=logits, past_key_values=encoded.get(
            "past_key_values"), hidden_states=encoded.get("hidden_states"), attentions=encoded.get("attentions"))


class DoubleHeadsTask(TaskModel):
    """The tied LM head on every choice's tokens and a `SequenceSummary` score per choice (inputs
    `[batch, choices, seq]`, `mc_token_ids` `[batch, choices]`). `loss` is per example: the LM loss of its choices
    (labels shifted inside) plus its multiple-choice loss, each when its labels are given, so that its mean is
    PyTorch's `loss + mc_loss`."""

    label_names = ("labels", "mc_labels")
    tasks = ("multiple_choice",)

    def make_heads(self, config) -> None:
        config.num_labels = 1  # as the reference: the summary scores each choice with one logit
        self.lm_head_layer = TiedLMHead(self.backbone.get_input_embeddings(), name="lm_head_layer")
        self.multiple_choice_head = SequenceSummary(config, self.head_paths("multiple_choice")["summary"],
                                                    name="multiple_choice_head")

    def forward(self, inputs, labels, training):
        inputs = dict(inputs)
        mc_token_ids = inputs.pop("mc_token_ids")
        inputs, choices = flatten_choices(inputs)
        encoded = self.encode(inputs, training)
        flat = encoded["last_hidden_state"]
        flat_logits = float32_logits(self.lm_head_layer(flat))
        hidden = tf.reshape(flat, tf.concat([choices, tf.shape(flat)[1:]], 0))
        mc_logits = float32_logits(self.multiple_choice_head(hidden, mc_token_ids, training=training))
        if mc_logits.shape[-1] == 1:
            mc_logits = tf.squeeze(mc_logits, -1)
        loss = None
        if labels["labels"] is not None:
            flat_labels = tf.reshape(labels["labels"], (-1, tf.shape(labels["labels"])[-1]))
            loss = tf.reduce_mean(tf.reshape(losses.causal_lm_loss(flat_labels, flat_logits), choices), axis=1)
        if labels["mc_labels"] is not None:
            mc_loss = losses.single_label_loss(labels["mc_labels"], mc_logits)
            loss = mc_loss if loss is None else loss + mc_loss
        all_hidden = encoded.get("hidden_states")
        return TFGPT2DoubleHeadsModelOutput(
            loss=loss, logits=tf.reshape(flat_logits, tf.concat([choices, tf.shape(flat_logits)[1:]], 0)),
            mc_logits=mc_logits, past_key_values=encoded.get("past_key_values"),
            # As the reference: the last hidden state per choice, the others as the decoder saw them.
            hidden_states=None if all_hidden is None else all_hidden[:-1] + (hidden,),
            attentions=encoded.get("attentions"),
        )


class TFGPT2PreTrainedModel(TaskModel):
    """GPT-2's architecture: the `transformer` backbone, its weight table and inputs."""

    config_class = GPT2Config
    base_model_prefix = "transformer"
    weight_table = GPT2_WEIGHTS
    input_names = GPT2_INPUTS
    is_decoder_task = False  # the cache inputs are in `input_names`, at the reference's place

    def make_backbone(self, config, add_pooling_layer: bool) -> GPT2Backbone:
        return GPT2Backbone(self.weight_table.blocks, config, name=self.base_model_prefix)

    @property
    def input_signature(self) -> dict[str, tf.TensorSpec]:
        """GPT-2 serves `input_ids` and `attention_mask` only."""
        return {name: tf.TensorSpec([None, None], tf.int32, name=name) for name in ("input_ids", "attention_mask")}


class TFGPT2Model(TFGPT2PreTrainedModel, BaseModelTask):
    """The bare GPT-2 decoder: `last_hidden_state` and, with `use_cache`, `past_key_values` (one
    `[2, batch, heads, seq, head_dim]` tensor per layer). With `cache_position`, `past_key_values` is a
    preallocated cache written from that slot on, and `attention_mask` covers every slot.

    Example:
        >>> out = model({"input_ids": ids}, use_cache=True)
        >>> next_out = model({"input_ids": next_ids}, past_key_values=out.past_key_values)
    """

    input_names = GPT2_INPUTS + ("cache_position",)


class TFGPT2LMHeadModel(TFGPT2PreTrainedModel, TiedCausalLMTask):
    """GPT-2 with the language-modelling head, tied to `wte`; with `labels`, the next-token loss (labels are
    shifted inside; -100 is ignored). `generate()` decodes with a preallocated cache (`cache_position`).

    Example:
        >>> logits = model({"input_ids": ids}).logits  # [batch, seq, vocab]
        >>> model.generate(ids, max_new_tokens=20)
    """

    input_names = GPT2_INPUTS + ("cache_position",)


class TFGPT2DoubleHeadsModel(TFGPT2PreTrainedModel, DoubleHeadsTask):
    """GPT-2 with the tied LM head and a multiple-choice head on the token at `mc_token_ids` of each choice:
    `logits` `[batch, choices, seq, vocab]`, `mc_logits` `[batch, choices]`; `labels` (LM) and `mc_labels` give a
    loss (see `DoubleHeadsTask`).

    Example:
        >>> out = model({"input_ids": ids, "mc_token_ids": cls_positions}, mc_labels=answers)  # ids [b, c, seq]
        >>> out.mc_logits.shape  # (b, c)
    """

    input_names = GPT2_INPUTS[:-1] + ("mc_token_ids", "use_cache")

    @property
    def input_signature(self) -> dict[str, tf.TensorSpec]:
        """`input_ids` and `attention_mask` `[batch, choices, seq]`, `mc_token_ids` `[batch, choices]`."""
        return {"input_ids": tf.TensorSpec([None, None, None], tf.int32, name="input_ids"),
                "attention_mask": tf.TensorSpec([None, None, None], tf.int32, name="attention_mask"),
                "mc_token_ids": tf.TensorSpec([None, None], tf.int32, name="mc_token_ids")}

    def make_dummy_inputs(self, batch_size: int = 1, length: int = 2, num_choices: int = 2) -> dict[str, tf.Tensor]:
        """Dummy choices of `length` tokens, each scored at its last token."""
        dummies = super().make_dummy_inputs(batch_size, length, num_choices)
        dummies["mc_token_ids"] = tf.fill([batch_size, num_choices], length - 1)
        return dummies


class TFGPT2ForSequenceClassification(TFGPT2PreTrainedModel, LastTokenClassificationTask):
    """GPT-2 classifying a sequence from its last non-padding token (`config.pad_token_id`; without one, the
    last token).

    Example:
        >>> model = TFGPT2ForSequenceClassification.from_pretrained("gpt2-dir", num_labels=2, pad_token_id=50256)
    """
