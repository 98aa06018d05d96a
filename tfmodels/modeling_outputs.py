"""`ModelOutput`: a dict of the non-None output fields, in the reference's order, with attribute access."""

from __future__ import annotations

from typing import Any

import optree


class ModelOutput(dict):
    """Model outputs: a `dict` (so Keras, `tf.function` and `tf.nest` accept it) with attribute access.

    Fields that are None are left out; the order is the class's `_fields` order. Integer indexing and
    `to_tuple()` give the values in that order, as with `return_dict=False`.

    Example:
        >>> out = TFSequenceClassifierOutput(logits=logits)
        >>> out.logits is out["logits"] is out[0]
        True
    """

    _fields: tuple[str, ...] = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # Keras walks outputs with optree, which treats unregistered dict subclasses as leaves.
        optree.register_pytree_node(
            cls,
            lambda out: (tuple(out.values()), tuple(out.keys()), tuple(out.keys())),
            lambda keys, values: cls(zip(keys, values)),
            namespace="keras",
        )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        data = dict(*args, **kwargs)
        unknown = [key for key in data if key not in self._fields]
        if unknown:
            raise TypeError(f"{type(self).__name__} has no field(s) {unknown}; its fields are {list(self._fields)}.")
        super().__init__((key, data[key]) for key in self._fields if data.get(key) is not None)

    def __getattr__(self, name: str) -> Any:
        if name in type(self)._fields:
            return self.get(name)
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __getitem__(self, key: str | int | slice) -> Any:
        if isinstance(key, (int, slice)):
            return self.to_tuple()[key]
        return super().__getitem__(key)

    def to_tuple(self) -> tuple:
        """The non-None fields as a tuple, in field order."""
        return tuple(self.values())

    def __reduce__(self):
        return (type(self), (dict(self),))


class TFBaseModelOutputWithPoolingAndCrossAttentions(ModelOutput):
    """Outputs of an encoder with a pooler (BERT)."""

    _fields = (
        "last_hidden_state", "pooler_output", "past_key_values", "hidden_states", "attentions",
        "cross_attentions",
    )


class TFBaseModelOutputWithPooling(ModelOutput):
    """Outputs of an encoder with a pooler and no cache (ViT, CLIP's towers)."""

    _fields = ("last_hidden_state", "pooler_output", "hidden_states", "attentions")


class TFCLIPOutput(ModelOutput):
    """Outputs of CLIP: the contrastive loss, the scaled similarities both ways, the normalised embeddings and each
    tower's own outputs."""

    _fields = ("loss", "logits_per_image", "logits_per_text", "text_embeds", "image_embeds", "text_model_output",
               "vision_model_output")


class TFBaseModelOutputWithPastAndCrossAttentions(ModelOutput):
    """Outputs of a decoder with a key/value cache (GPT-2)."""

    _fields = ("last_hidden_state", "past_key_values", "hidden_states", "attentions", "cross_attentions")


class TFBertForPreTrainingOutput(ModelOutput):
    """Outputs of BERT pre-training: masked LM and next-sentence logits."""

    _fields = ("loss", "prediction_logits", "seq_relationship_logits", "hidden_states", "attentions")


class TFAlbertForPreTrainingOutput(ModelOutput):
    """Outputs of ALBERT pre-training: masked LM and sentence-order logits."""

    _fields = ("loss", "prediction_logits", "sop_logits", "hidden_states", "attentions")


class TFElectraForPreTrainingOutput(ModelOutput):
    """Outputs of ELECTRA's discriminator: one replaced-token logit per token."""

    _fields = ("loss", "logits", "hidden_states", "attentions")


class TFBaseModelOutput(ModelOutput):
    """Outputs of an encoder."""

    _fields = ("last_hidden_state", "hidden_states", "attentions")


class TFGPT2DoubleHeadsModelOutput(ModelOutput):
    """Outputs of GPT-2 with the language-modelling and multiple-choice heads."""

    _fields = ("loss", "logits", "mc_logits", "past_key_values", "hidden_states", "attentions")


class TFMaskedLMOutput(ModelOutput):
    """Masked language modelling outputs."""

    _fields = ("loss", "logits", "hidden_states", "attentions")


class TFNextSentencePredictorOutput(ModelOutput):
    """Next-sentence prediction outputs."""

    _fields = ("loss", "logits", "hidden_states", "attentions")


class TFSequenceClassifierOutput(ModelOutput):
    """Sequence classification outputs."""

    _fields = ("loss", "logits", "hidden_states", "attentions")


class TFSequenceClassifierOutputWithPast(ModelOutput):
    """Sequence classification outputs of a decoder."""

    _fields = ("loss", "logits", "past_key_values", "hidden_states", "attentions")


class TFMultipleChoiceModelOutput(ModelOutput):
    """Multiple choice outputs."""

    _fields = ("loss", "logits", "hidden_states", "attentions")


class TFTokenClassifierOutput(ModelOutput):
    """Token classification outputs."""

    _fields = ("loss", "logits", "hidden_states", "attentions")


class TFQuestionAnsweringModelOutput(ModelOutput):
    """Extractive question answering outputs."""

    _fields = ("loss", "start_logits", "end_logits", "hidden_states", "attentions")


class TFCausalLMOutputWithCrossAttentions(ModelOutput):
    """Causal language modelling outputs."""

    _fields = ("loss", "logits", "past_key_values", "hidden_states", "attentions", "cross_attentions")


class TFMoeModelOutputWithPast(ModelOutput):
    """Outputs of a decoder with a mixture of experts (Mixtral): its routers' logits besides the usual ones."""

    _fields = ("last_hidden_state", "past_key_values", "hidden_states", "attentions", "router_logits")


class TFMoeCausalLMOutputWithPast(ModelOutput):
    """Causal language modelling outputs of a mixture of experts: the load-balancing `aux_loss` (with
    `output_router_logits`) and the routers' logits."""

    _fields = ("loss", "aux_loss", "logits", "past_key_values", "hidden_states", "attentions", "router_logits")
