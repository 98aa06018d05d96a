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


def _output(name: str, fields: tuple[str, ...], doc: str) -> type[ModelOutput]:
    return type(name, (ModelOutput,), {"_fields": fields, "__doc__": doc, "__module__": __name__})


_HIDDEN = ("hidden_states", "attentions")
TFBaseModelOutputWithPoolingAndCrossAttentions = _output(
    "TFBaseModelOutputWithPoolingAndCrossAttentions",
    ("last_hidden_state", "pooler_output", "past_key_values") + _HIDDEN + ("cross_attentions",),
    "Outputs of an encoder with a pooler (BERT).",
)
TFBaseModelOutputWithPastAndCrossAttentions = _output(
    "TFBaseModelOutputWithPastAndCrossAttentions",
    ("last_hidden_state", "past_key_values") + _HIDDEN + ("cross_attentions",),
    "Outputs of a decoder with a key/value cache (GPT-2).",
)
TFBertForPreTrainingOutput = _output(
    "TFBertForPreTrainingOutput",
    ("loss", "prediction_logits", "seq_relationship_logits") + _HIDDEN,
    "Outputs of BERT pre-training: masked LM and next-sentence logits.",
)
TFAlbertForPreTrainingOutput = _output(
    "TFAlbertForPreTrainingOutput",
    ("loss", "prediction_logits", "sop_logits") + _HIDDEN,
    "Outputs of ALBERT pre-training: masked LM and sentence-order logits.",
)
TFElectraForPreTrainingOutput = _output(
    "TFElectraForPreTrainingOutput", ("loss", "logits") + _HIDDEN,
    "Outputs of ELECTRA's discriminator: one replaced-token logit per token.",
)
TFBaseModelOutput = _output("TFBaseModelOutput", ("last_hidden_state",) + _HIDDEN, "Outputs of an encoder.")
TFGPT2DoubleHeadsModelOutput = _output(
    "TFGPT2DoubleHeadsModelOutput",
    ("loss", "logits", "mc_logits", "past_key_values") + _HIDDEN,
    "Outputs of GPT-2 with the language-modelling and multiple-choice heads.",
)
TFMaskedLMOutput = _output("TFMaskedLMOutput", ("loss", "logits") + _HIDDEN, "Masked language modelling outputs.")
TFNextSentencePredictorOutput = _output(
    "TFNextSentencePredictorOutput", ("loss", "logits") + _HIDDEN, "Next-sentence prediction outputs."
)
TFSequenceClassifierOutput = _output(
    "TFSequenceClassifierOutput", ("loss", "logits") + _HIDDEN, "Sequence classification outputs."
)
TFSequenceClassifierOutputWithPast = _output(
    "TFSequenceClassifierOutputWithPast",
    ("loss", "logits", "past_key_values") + _HIDDEN,
    "Sequence classification outputs of a decoder.",
)
TFMultipleChoiceModelOutput = _output(
    "TFMultipleChoiceModelOutput", ("loss", "logits") + _HIDDEN, "Multiple choice outputs."
)
TFTokenClassifierOutput = _output(
    "TFTokenClassifierOutput", ("loss", "logits") + _HIDDEN, "Token classification outputs."
)
TFQuestionAnsweringModelOutput = _output(
    "TFQuestionAnsweringModelOutput",
    ("loss", "start_logits", "end_logits") + _HIDDEN,
    "Extractive question answering outputs.",
)
TFCausalLMOutputWithCrossAttentions = _output(
    "TFCausalLMOutputWithCrossAttentions",
    ("loss", "logits", "past_key_values") + _HIDDEN + ("cross_attentions",),
    "Causal language modelling outputs.",
)
