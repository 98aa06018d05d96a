"""Encoder-decoder (sequence-to-sequence) models: the task mixins, `shift_tokens_right` and the generation hooks
that BART and T5 share.

An architecture provides a backbone layer (named `base_model_prefix`) that implements this contract:

- `encode(input_ids=None, attention_mask=None, inputs_embeds=None, head_mask=None, output_attentions=False,
  output_hidden_states=False, training=False) -> dict`: `last_hidden_state`, and `hidden_states` (the embedding
  output first, then each layer's) and `attentions` when asked (None otherwise).
- `decode(input_ids=None, attention_mask=None, encoder_hidden_states=None, encoder_attention_mask=None,
  inputs_embeds=None, position_ids=None, head_mask=None, cross_attn_head_mask=None, past_key_values=None,
  cross_key_values=None, cache_position=None, use_cache=False, output_attentions=False, output_hidden_states=False,
  training=False) -> dict`: `last_hidden_state`, `past_key_values` (with `use_cache`: one self-attention cache
  `[2, batch, kv_heads, length, head_dim]` per layer, appended to, or with `cache_position` a preallocated cache
  written in place), `hidden_states`, `attentions`, `cross_attentions`. `cross_key_values` (one
  `[2, batch, kv_heads, source_length, head_dim]` tensor per layer, from `decoder_cross_key_values`) replaces the
  projection of `encoder_hidden_states` in the cross-attentions.
- `decoder_cross_key_values(encoder_hidden_states) -> tuple`: each decoder layer's cross-attention keys and values
  (`CrossAttention.project_key_value`), computed once per `generate`.
- `decoder_stack` (property): the decoder's `TransformerStack` (its self-attentions size the generation cache).
- `get_input_embeddings()`: the shared token embeddings.

and the architecture's model base implements `lm_logits(decoder_hidden_states) -> logits` (after `make_lm_head`,
see `Seq2SeqLMTask`). Each class is then the architecture's base plus one mixin of this module:

    class TFBartForConditionalGeneration(TFBartPreTrainedModel, Seq2SeqLMTask):
        '''BART with its language-modelling head.'''

Example:
    >>> shift_tokens_right(tf.constant([[5, 6, -100]]), pad_token_id=1, decoder_start_token_id=2)
    <tf.Tensor: shape=(1, 3), dtype=int32, numpy=array([[2, 5, 6]], dtype=int32)>
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import tensorflow as tf

from tfmodels.layers import losses
from tfmodels.call_inputs import float32_logits, unpack_inputs
from tfmodels.modeling_outputs import ModelOutput, TFBaseModelOutput, TFBaseModelOutputWithPastAndCrossAttentions
from tfmodels.tasks import TaskModel

class TFSeq2SeqModelOutput(ModelOutput):
    """Outputs of an encoder-decoder model: the decoder's, then the encoder's."""

    _fields = (
        "last_hidden_state", "past_key_values", "decoder_hidden_states", "decoder_attentions",
        "cross_attentions", "encoder_last_hidden_state", "encoder_hidden_states", "encoder_attentions",
    )


class TFSeq2SeqLMOutput(ModelOutput):
    """Outputs of an encoder-decoder language model."""

    _fields = (
        "loss", "logits", "past_key_values", "decoder_hidden_states", "decoder_attentions",
        "cross_attentions", "encoder_last_hidden_state", "encoder_hidden_states", "encoder_attentions",
    )


class TFSeq2SeqSequenceClassifierOutput(ModelOutput):
    """Outputs of an encoder-decoder sequence classifier."""

    _fields = (
        "loss", "logits", "past_key_values", "decoder_hidden_states", "decoder_attentions",
        "cross_attentions", "encoder_last_hidden_state", "encoder_hidden_states", "encoder_attentions",
    )


def shift_tokens_right(labels, pad_token_id: int | None, decoder_start_token_id: int | None) -> tf.Tensor:
    """Decoder inputs from labels, as the reference: `decoder_start_token_id`, then the labels without their last
    token; -100 (ignored labels) becomes `pad_token_id`.

    Example:
        >>> shift_tokens_right([[5, 6, 7]], 1, 2).numpy().tolist()
        [[2, 5, 6]]
    """
    if pad_token_id is None:
        raise ValueError("shift_tokens_right needs pad_token_id (received None): set config.pad_token_id.")
    if decoder_start_token_id is None:
        raise ValueError("shift_tokens_right needs decoder_start_token_id (received None): set "
                         "config.decoder_start_token_id.")
    labels = tf.cast(labels, tf.int32)
    start = tf.fill([tf.shape(labels)[0], 1], tf.constant(decoder_start_token_id, tf.int32))
    shifted = tf.concat([start, labels[:, :-1]], axis=1)
    return tf.where(shifted == -100, tf.constant(pad_token_id, tf.int32), shifted)


def eos_token_id(config) -> int:
    """`config.eos_token_id`, the first one when it is a list.

    Example:
        >>> eos_token_id(BartConfig(eos_token_id=[2, 5]))
        2
    """
    eos = config.eos_token_id
    eos = eos[0] if isinstance(eos, (list, tuple)) and eos else eos
    if eos is None or isinstance(eos, (list, tuple)):
        raise ValueError(f"{type(config).__name__}.eos_token_id must be a token id (received {config.eos_token_id!r}): "
                         "set config.eos_token_id.")
    return int(eos)


def encoder_states(encoder_outputs) -> dict:
    """`encoder_outputs` as a model accepts them (a `ModelOutput` or dict with `last_hidden_state`, a tuple whose
    first item is the last hidden state, or that tensor) -> a dict with `last_hidden_state`, `hidden_states` and
    `attentions`.

    Example:
        >>> encoder_states((states,))["last_hidden_state"] is states
        True
    """
    if isinstance(encoder_outputs, Mapping):
        if "last_hidden_state" not in encoder_outputs:
            raise ValueError("encoder_outputs must hold last_hidden_state; received keys "
                             f"{sorted(encoder_outputs)}. Pass the output of model.get_encoder()(...).")
        return {key: encoder_outputs.get(key) for key in ("last_hidden_state", "hidden_states", "attentions")}
    if isinstance(encoder_outputs, (list, tuple)):
        items = list(encoder_outputs) + [None, None]
        return {"last_hidden_state": items[0], "hidden_states": items[1], "attentions": items[2]}
    return {"last_hidden_state": encoder_outputs, "hidden_states": None, "attentions": None}


def split_cache(past_key_values) -> tuple[tuple | None, tuple | None]:
    """A decoder cache as the reference returns it (per layer: self-attention key and value, cross-attention key
    and value, each `[batch, heads, length, head_dim]`), or as the kit keeps it (per layer one
    `[2, batch, heads, length, head_dim]` self-attention tensor) -> `(self caches, cross keys/values or None)` in
    the kit's layout.

    Example:
        >>> self_caches, cross = split_cache(model(..., use_cache=True).past_key_values)
        >>> self_caches[0].shape  # (2, batch, heads, length, head_dim)
    """
    if past_key_values is None:
        return None, None
    layers = list(past_key_values)
    if all(isinstance(layer, (tuple, list)) and len(layer) == 4 for layer in layers):
        return (tuple(tf.stack(layer[:2]) for layer in layers), tuple(tf.stack(layer[2:]) for layer in layers))
    if all(not isinstance(layer, (tuple, list)) and len(getattr(layer, "shape", ())) == 5 for layer in layers):
        return tuple(layers), None
    received = [len(layer) if isinstance(layer, (tuple, list)) else getattr(layer, "shape", type(layer).__name__)
                for layer in layers]
    raise ValueError(f"past_key_values must hold, per decoder layer, 4 tensors (self-attention key and value, "
                     f"cross-attention key and value) as the model returns them with use_cache=True; received "
                     f"{received}.")


def join_cache(self_caches, cross_key_values) -> tuple[tuple[tf.Tensor, ...], ...]:
    """The reference's cache layout from the kit's: per layer `(self key, self value, cross key, cross value)`."""
    return tuple((own[0], own[1], cross[0], cross[1]) for own, cross in zip(self_caches, cross_key_values))


class Seq2SeqEncoderView:
    """The backbone's encoder, callable as the reference's encoder layer (`model.get_encoder()`), returning a
    `TFBaseModelOutput`. Architectures subclass it with their reference's `__call__` parameters."""

    def __init__(self, backbone):
        self.backbone = backbone

    def run(self, input_ids=None, attention_mask=None, inputs_embeds=None, head_mask=None, output_attentions=False,
            output_hidden_states=False, return_dict=True, training=False):
        """The encoder pass (what every architecture's `__call__` does)."""
        encoded = self.backbone.encode(input_ids=input_ids, attention_mask=attention_mask,
                                       inputs_embeds=inputs_embeds, head_mask=head_mask,
                                       output_attentions=bool(output_attentions),
                                       output_hidden_states=bool(output_hidden_states), training=training)
        output = TFBaseModelOutput(**encoded)
        return output if return_dict is not False else output.to_tuple()


class Seq2SeqDecoderView:
    """The backbone's decoder, callable as the reference's decoder layer (`model.get_decoder()`), returning a
    `TFBaseModelOutputWithPastAndCrossAttentions` whose `past_key_values` are in the reference's layout (4 tensors
    per layer). Architectures subclass it with their reference's `__call__` parameters."""

    def __init__(self, backbone):
        self.backbone = backbone

    @property
    def layer(self) -> list:
        """The decoder's layers (`get_decoder().layer[0]`)."""
        return self.backbone.decoder_stack.layer

    def __getitem__(self, index):
        return self.backbone.decoder_stack[index]

    def __len__(self) -> int:
        return len(self.backbone.decoder_stack)

    def run(self, input_ids=None, attention_mask=None, encoder_hidden_states=None, encoder_attention_mask=None,
            inputs_embeds=None, position_ids=None, head_mask=None, cross_attn_head_mask=None, past_key_values=None,
            use_cache=None, output_attentions=False, output_hidden_states=False, return_dict=True, training=False):
        """The decoder pass (what every architecture's `__call__` does)."""
        self_caches, cross = split_cache(past_key_values)
        if use_cache and cross is None and encoder_hidden_states is not None:
            cross = self.backbone.decoder_cross_key_values(encoder_hidden_states)
        decoded = self.backbone.decode(
            input_ids=input_ids, attention_mask=attention_mask, encoder_hidden_states=encoder_hidden_states,
            encoder_attention_mask=encoder_attention_mask, inputs_embeds=inputs_embeds, position_ids=position_ids,
            head_mask=head_mask, cross_attn_head_mask=cross_attn_head_mask, past_key_values=self_caches,
            cross_key_values=cross, use_cache=bool(use_cache), output_attentions=bool(output_attentions),
            output_hidden_states=bool(output_hidden_states), training=training)
        # No cache comes back where the decoder declined one (gradient checkpointing while training).
        own = decoded.get("past_key_values")
        past = join_cache(own, cross) if use_cache and own is not None and cross is not None else None
        output = TFBaseModelOutputWithPastAndCrossAttentions(
            last_hidden_state=decoded["last_hidden_state"], past_key_values=past,
            hidden_states=decoded.get("hidden_states"), attentions=decoded.get("attentions"),
            cross_attentions=decoded.get("cross_attentions"))
        return output if return_dict is not False else output.to_tuple()


class Seq2SeqTaskModel(TaskModel):
    """What every encoder-decoder task shares: the encoder (skipped when `encoder_outputs` are given), the decoder
    on `decoder_input_ids` (from `default_decoder_input_ids` when not given), and the reference's output fields.
    The cache (`past_key_values`) is returned when `use_cache` (default `config.use_cache`), never with labels.
    The tasks' `call` takes BART's inputs in the reference's order; T5's classes have their own."""

    shifts_labels = False  # the task's default decoder inputs: its labels shifted right
    shifts_input_ids = False  # the architecture's default decoder inputs: the input ids shifted right (BART)

    # ---- what architectures may change -------------------------------------------------------------------------
    def default_decoder_input_ids(self, inputs: dict, labels: dict):
        """Decoder inputs when none are given: the labels shifted right (LM), else, with `shifts_input_ids`, the
        input ids shifted right (BART's denoising default); otherwise a ValueError."""
        source = labels.get("labels") if self.shifts_labels else None
        if source is None and self.shifts_input_ids:
            source = inputs.get("input_ids")
        if source is None:
            accepted = ["decoder_input_ids (or decoder_inputs_embeds)"] + ["labels"] * self.shifts_labels
            accepted += ["input_ids"] * self.shifts_input_ids
            raise ValueError(f"{type(self).__name__} needs {' or '.join(accepted)}; received none. Pass "
                             "decoder_input_ids: the target ids shifted right, e.g. "
                             "tfmodels.seq2seq.shift_tokens_right(labels, config.pad_token_id, "
                             "config.decoder_start_token_id).")
        return shift_tokens_right(source, self.config.pad_token_id, self.config.decoder_start_token_id)

    def encoder_inputs(self, inputs: dict) -> dict:
        """What the encoder reads of a call's inputs: `input_ids` (or `inputs_embeds`), `attention_mask`,
        `head_mask` (Whisper reads `input_features`)."""
        return {name: inputs.get(name) for name in ("input_ids", "attention_mask", "inputs_embeds", "head_mask")}

    def decoder_head_masks(self, inputs: dict) -> tuple:
        """The decoder's `(self-attention, cross-attention)` head masks: `decoder_head_mask` and
        `cross_attn_head_mask` (BART's reference)."""
        return inputs.get("decoder_head_mask"), inputs.get("cross_attn_head_mask")

    # ---- shared plumbing ---------------------------------------------------------------------------------------
    encoder_view = Seq2SeqEncoderView
    decoder_view = Seq2SeqDecoderView

    def get_encoder(self) -> Seq2SeqEncoderView:
        """The encoder, called as the reference's: `model.get_encoder()(input_ids, attention_mask=mask)` gives the
        `encoder_outputs` a model call and `generate` accept."""
        return self.encoder_view(self.backbone)

    def get_decoder(self) -> Seq2SeqDecoderView:
        """The decoder, called as the reference's: `model.get_decoder()(decoder_ids,
        encoder_hidden_states=states, encoder_attention_mask=mask, past_key_values=past, use_cache=True)`; its
        layers are `get_decoder().layer`."""
        return self.decoder_view(self.backbone)

    def run_seq2seq(self, inputs: dict, labels: dict, training) -> dict:
        """The encoder (or the given `encoder_outputs`) and the decoder; returns the `TFSeq2SeqModelOutput`
        fields."""
        inputs = dict(inputs)
        flags = {name: bool(inputs.get(name)) for name in ("output_attentions", "output_hidden_states")}
        if inputs.get("encoder_outputs") is not None:
            encoded = encoder_states(inputs["encoder_outputs"])
        else:
            encoded = self.backbone.encode(**self.encoder_inputs(inputs), training=training, **flags)
        decoder_ids = inputs.get("decoder_input_ids")
        if decoder_ids is None and inputs.get("decoder_inputs_embeds") is None:
            decoder_ids = self.default_decoder_input_ids(inputs, labels)
        use_cache = bool(inputs.get("use_cache")) and not any(value is not None for value in labels.values())
        self_head_mask, cross_head_mask = self.decoder_head_masks(inputs)
        decoded = self.decoder_view(self.backbone).run(
            input_ids=decoder_ids, attention_mask=inputs.get("decoder_attention_mask"),
            encoder_hidden_states=encoded["last_hidden_state"], encoder_attention_mask=inputs.get("attention_mask"),
            inputs_embeds=inputs.get("decoder_inputs_embeds"), position_ids=inputs.get("decoder_position_ids"),
            head_mask=self_head_mask, cross_attn_head_mask=cross_head_mask,
            past_key_values=inputs.get("past_key_values"), use_cache=use_cache, training=training, **flags,
        )
        return {
            "last_hidden_state": decoded["last_hidden_state"],
            "past_key_values": decoded.get("past_key_values"),
            "decoder_hidden_states": decoded.get("hidden_states"),
            "decoder_attentions": decoded.get("attentions"),
            "cross_attentions": decoded.get("cross_attentions"),
            "encoder_last_hidden_state": encoded["last_hidden_state"],
            "encoder_hidden_states": encoded.get("hidden_states"),
            "encoder_attentions": encoded.get("attentions"),
        }

    def serving_output(self, output) -> dict[str, tf.Tensor]:
        """The kit's served outputs without the decoder cache: its cross-attention part spans the source's
        positions, its self-attention part the target's (one tensor cannot hold both when their lengths differ),
        and a client generates through the `generate` signatures instead."""
        return super().serving_output({key: value for key, value in output.items() if key != "past_key_values"})

    @property
    def input_signature(self) -> dict[str, tf.TensorSpec]:
        """The reference's serving inputs: `input_ids`, `attention_mask`, `decoder_input_ids`,
        `decoder_attention_mask` (int32, `[batch, length]`)."""
        return {name: tf.TensorSpec([None, None], tf.int32, name=name)
                for name in ("input_ids", "attention_mask", "decoder_input_ids", "decoder_attention_mask")}


class Seq2SeqModelTask(Seq2SeqTaskModel):
    """The bare encoder-decoder: the decoder's last hidden state (and cache), then the encoder's outputs. Without
    `decoder_input_ids`, the decoder reads the input ids shifted right when the architecture `shifts_input_ids`
    (BART, as its reference); others raise a ValueError (T5, as its reference)."""

    bare_backbone = True

    def forward(self, inputs, labels, training):
        return TFSeq2SeqModelOutput(**self.run_seq2seq(inputs, labels, training))

    @unpack_inputs
    def call(self, input_ids=None, attention_mask=None, decoder_input_ids=None, decoder_attention_mask=None,
             decoder_position_ids=None, head_mask=None, decoder_head_mask=None, cross_attn_head_mask=None,
             encoder_outputs=None, past_key_values=None, inputs_embeds=None, decoder_inputs_embeds=None,
             use_cache=None, output_attentions=None, output_hidden_states=None, return_dict=None,
             training=False) -> ModelOutput | tuple:
        return self.run_task(locals())


class LabelledSeq2SeqTaskModel(Seq2SeqTaskModel):
    """An encoder-decoder task with one `labels` input, after BART's inputs: conditional generation and sequence
    classification."""

    label_names = ("labels",)

    @unpack_inputs
    def call(self, input_ids=None, attention_mask=None, decoder_input_ids=None, decoder_attention_mask=None,
             decoder_position_ids=None, head_mask=None, decoder_head_mask=None, cross_attn_head_mask=None,
             encoder_outputs=None, past_key_values=None, inputs_embeds=None, decoder_inputs_embeds=None,
             use_cache=None, output_attentions=None, output_hidden_states=None, return_dict=None, labels=None,
             training=False) -> ModelOutput | tuple:
        return self.run_task(locals())


class Seq2SeqLMTask(LabelledSeq2SeqTaskModel):
    """Conditional generation: the LM head on the decoder; with `labels`, the cross entropy over the labels that
    are not -100 (per example, their mean the reference's loss), and decoder inputs default to the labels shifted
    right. `generate()` encodes once and caches the decoder's self- and cross-attention keys and values.

    Architectures implement `make_lm_head(config)` (create the head layers) and `lm_logits(hidden_states)`, and set
    `masks_pad_labels` when their reference ignores labels equal to `config.pad_token_id` as it ignores -100 (BART).
    """

    tasks = ("seq2seq_lm",)
    shifts_labels = True
    masks_pad_labels = False

    @classmethod
    def can_generate(cls) -> bool:
        """True: `generate()` runs the encoder once and decodes with the cache."""
        return True

    def make_heads(self, config) -> None:
        self.make_lm_head(config)

    def make_lm_head(self, config) -> None:
        """Create the LM head's layers (architectures implement it)."""
        raise NotImplementedError

    def lm_logits(self, hidden_states: tf.Tensor) -> tf.Tensor:
        """Vocabulary logits of decoder hidden states (architectures implement it)."""
        raise NotImplementedError

    def forward(self, inputs, labels, training):
        if self.masks_pad_labels and labels["labels"] is not None:
            targets = tf.cast(labels["labels"], tf.int32)
            labels = {"labels": tf.where(tf.equal(targets, self.config.pad_token_id), -100, targets)}
        fields = self.run_seq2seq(inputs, labels, training)
        logits = float32_logits(self.lm_logits(fields.pop("last_hidden_state")))
        loss = None if labels["labels"] is None else losses.masked_lm_loss(labels["labels"], logits)
        return TFSeq2SeqLMOutput(loss=loss, logits=logits, **fields)

    def prepare_decoder_input_ids_from_labels(self, labels) -> tf.Tensor:
        """The labels shifted right: the decoder inputs that training on `labels` uses."""
        return shift_tokens_right(labels, self.config.pad_token_id, self.config.decoder_start_token_id)

    # ---- generation hooks (see tfmodels/generation/utils.py) ---------------------------------------------------
    def encode_for_generation(self, input_ids, attention_mask) -> dict[str, Any]:
        """The encoder once on the sources (`input_ids`, or the architecture's `main_input_name`: Whisper's
        features), and each decoder layer's cross-attention keys and values from its output:
        `encoder_hidden_states` `[batch, source_length, hidden]` and `cross_key_values`, one
        `[2, batch, kv_heads, source_length, head_dim]` tensor per decoder layer (the attention's layout)."""
        source = self.encoder_inputs({self.main_input_name: input_ids, "attention_mask": attention_mask})
        states = self.backbone.encode(**source, training=False)["last_hidden_state"]
        return {"encoder_hidden_states": states, "cross_key_values": self.backbone.decoder_cross_key_values(states)}

    def expand_encoder_outputs(self, encoder_outputs: dict[str, Any], expand: int) -> dict[str, Any]:
        """`encode_for_generation`'s output with each row repeated `expand` times (beams, returned sequences):
        the states along axis 0, the cross-attention keys and values along their batch axis 1."""
        return {"encoder_hidden_states": tf.repeat(encoder_outputs["encoder_hidden_states"], expand, axis=0),
                "cross_key_values": tuple(tf.repeat(kv, expand, axis=1) for kv in encoder_outputs["cross_key_values"])}

    def init_generation_cache(self, batch_size, max_length: int) -> tuple[tf.Tensor, ...]:
        """A zero self-attention cache of `max_length` slots per decoder layer
        (`[2, batch, kv_heads, max_length, head_dim]`), written in place at `cache_position`."""
        stack = self.backbone.decoder_stack
        attentions = [stack.layer[blocks[-1]].attention for blocks in stack.schedule]
        return tuple(tf.zeros([2, batch_size, attention.num_kv_heads, max_length, attention.head_dim],
                              self.compute_dtype) for attention in attentions)

    def generation_forward(self, input_ids, attention_mask, position_ids, cache, cache_position,
                           encoder_outputs=None, encoder_attention_mask=None):
        """One cached decoder pass for `generate`: `(next-token logits [batch, vocab], cache)`."""
        if encoder_outputs is None:
            raise ValueError(f"{type(self).__name__} decodes from an encoder output: generate() passes it "
                             "(encode_for_generation); received None.")
        decoded = self.backbone.decode(
            input_ids=input_ids, attention_mask=attention_mask, position_ids=position_ids,
            encoder_hidden_states=encoder_outputs["encoder_hidden_states"],
            encoder_attention_mask=encoder_attention_mask,
            cross_key_values=encoder_outputs["cross_key_values"],
            past_key_values=cache, cache_position=cache_position, use_cache=True, training=False,
        )
        logits = self.lm_logits(decoded["last_hidden_state"][:, -1:, :])[:, -1, :]
        return float32_logits(logits), tuple(decoded["past_key_values"])


class Seq2SeqSequenceClassificationTask(LabelledSeq2SeqTaskModel):
    """Sequence classification from the decoder's state at the last `<eos>` token of `input_ids`
    (`config.eos_token_id`), as the reference's BART; every row must hold the same number of `<eos>` tokens (at
    least one). The decoder reads the input ids shifted right. The loss follows `config.problem_type`."""

    tasks = ("sequence_classification",)

    def make_heads(self, config) -> None:
        self.make_classification_head(config)

    def make_classification_head(self, config) -> None:
        """Create the classifier's layers, applied by `classify(sentence_representation)` (architectures)."""
        raise NotImplementedError

    def classify(self, sentence_representation: tf.Tensor, training) -> tf.Tensor:
        """Logits `[batch, num_labels]` from `[batch, hidden]` (architectures implement it)."""
        raise NotImplementedError

    def last_eos_states(self, hidden_states: tf.Tensor, input_ids) -> tf.Tensor:
        """Each row's hidden state at its last `<eos>` token; raises when rows hold different numbers of `<eos>`
        tokens, or none."""
        if input_ids is None:
            raise ValueError(f"{type(self).__name__} classifies at the last <eos> token of input_ids; passing only "
                             "inputs_embeds is not supported.")
        eos = eos_token_id(self.config)
        is_eos = tf.equal(tf.cast(input_ids, tf.int32), eos)
        counts = tf.reduce_sum(tf.cast(is_eos, tf.int32), axis=1)
        message = (f"{type(self).__name__}: all examples must have the same number of <eos> tokens "
                   f"(eos_token_id={eos}), at least one; the number per row was ")
        if tf.executing_eagerly():
            if int(tf.reduce_min(counts)) < 1 or int(tf.reduce_max(counts)) != int(tf.reduce_min(counts)):
                raise ValueError(message + f"{counts.numpy().tolist()}. End every input with the same number of "
                                 "<eos> tokens (the tokenizer adds one).")
        else:
            tf.debugging.assert_equal(tf.reduce_max(counts), tf.reduce_min(counts), message=message + "different.")
            tf.debugging.assert_positive(tf.reduce_min(counts), message=message + "0 for some row.")
        length = tf.shape(is_eos)[1]
        last = length - 1 - tf.argmax(tf.reverse(tf.cast(is_eos, tf.int32), axis=[1]), axis=1, output_type=tf.int32)
        return tf.gather(hidden_states, last, batch_dims=1)

    def make_dummy_inputs(self, batch_size: int = 1, length: int = 2, num_choices: int = 2) -> dict[str, tf.Tensor]:
        """Ones, with `<eos>` as every row's last input token (where the classifier reads)."""
        dummies = super().make_dummy_inputs(batch_size, length, num_choices)
        eos = eos_token_id(self.config)
        ids = dummies["input_ids"]
        dummies["input_ids"] = tf.concat([ids[:, :-1], tf.fill([batch_size, 1], tf.cast(eos, ids.dtype))], axis=1)
        return dummies

    def adapt_check_inputs(self, inputs: dict) -> dict:
        """Serving verification inputs as this classifier accepts them: one `<eos>`, every row's last token
        (other `<eos>` ids become `<eos> + 1`)."""
        eos = eos_token_id(self.config)
        ids = np.where(inputs["input_ids"] == eos, eos + 1, inputs["input_ids"])
        ids[:, -1] = eos
        return {**inputs, "input_ids": ids}

    def forward(self, inputs, labels, training):
        fields = self.run_seq2seq(inputs, labels, training)
        representation = self.last_eos_states(fields.pop("last_hidden_state"), inputs.get("input_ids"))
        logits = float32_logits(self.classify(representation, training))
        loss = None
        if labels["labels"] is not None:
            loss = losses.sequence_classification_loss(labels["labels"], logits, self.config.problem_type)
        return TFSeq2SeqSequenceClassifierOutput(loss=loss, logits=logits, **fields)

