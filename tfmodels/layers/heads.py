"""The task heads every architecture shares, each at the paths its architecture's weight table gives.

Heads are `Group`s: their layers sit at model-level paths (`classifier`, `mlm___cls/predictions/...`), and they
take what they need from the backbone by argument (the tied word embeddings), never by attribute name.
"""

from __future__ import annotations

import keras
import numpy as np
import tensorflow as tf

from tfmodels.errors import ConfigError
from tfmodels.layers.core import get_activation, get_initializer
from tfmodels.layers.embeddings import TokenEmbedding, replace_variable
from tfmodels.layers.paths import Group, build_at, leaf

CLASSIFIER_STYLES = ("pooled", "first_token", "pre_classifier", "summary")


def _dense(units: int, path: str, initializer_range: float) -> keras.layers.Dense:
    return keras.layers.Dense(units, kernel_initializer=get_initializer(initializer_range), name=leaf(path))


class ClassifierHead(Group):
    """A sequence-level classifier, in one of the reference's styles (`paths` names its layers):

    - `pooled`: dropout, then `classifier` on the pooler output (BERT, ALBERT; also next-sentence and
      sentence-order heads).
    - `first_token`: on the first token, dropout, `dense`, activation, dropout, `out_proj` (RoBERTa with tanh,
      ELECTRA with gelu).
    - `pre_classifier`: on the first token, `pre_classifier` with ReLU, dropout, `classifier` (DistilBERT).
    - `summary`: on the first token, `summary` with the activation, dropout, `classifier` (ELECTRA's multiple
      choice).

    Example:
        >>> head = ClassifierHead("pooled", 3, 768, {"classifier": "classifier"}, dropout=0.1)
        >>> logits = head(sequence_output, pooled_output)
    """

    def __init__(self, style: str, units: int, hidden_size: int, paths: dict[str, str], dropout: float = 0.1,
                 activation: str = "tanh", initializer_range: float = 0.02, **kwargs):
        super().__init__(**kwargs)
        if style not in CLASSIFIER_STYLES:
            raise ConfigError(f"Unknown classifier style {style!r}; expected one of {CLASSIFIER_STYLES}.")
        self.style, self.paths, self.hidden_size = style, dict(paths), hidden_size
        self.dropout = keras.layers.Dropout(dropout, name="dropout")
        self.activation = get_activation(activation)
        if style == "first_token":
            self.dense = _dense(hidden_size, paths["dense"], initializer_range)
            self.out_proj = _dense(units, paths["out_proj"], initializer_range)
        else:
            if style in ("pre_classifier", "summary"):
                self.pre_classifier = _dense(hidden_size, paths[style], initializer_range)
            self.classifier = _dense(units, paths["classifier"], initializer_range)

    def layer_paths(self) -> dict[str, str]:
        """Attribute name -> checkpoint path of this head's layers."""
        if self.style == "first_token":
            return {"dense": self.paths["dense"], "out_proj": self.paths["out_proj"]}
        roles = ["pre_classifier"] if self.style in ("pre_classifier", "summary") else []
        return {**{role: self.paths[self.style] for role in roles}, "classifier": self.paths["classifier"]}

    def build(self, input_shape=None):
        hidden = (None, self.hidden_size)
        if self.style == "first_token":
            build_at(self.dense, self.paths["dense"], hidden)
            build_at(self.out_proj, self.paths["out_proj"], hidden)
            return
        if self.style in ("pre_classifier", "summary"):
            build_at(self.pre_classifier, self.paths[self.style], hidden)
        build_at(self.classifier, self.paths["classifier"], hidden)

    def call(self, sequence_output, pooled_output=None, training=False):
        if self.style == "pooled":
            if pooled_output is None:
                raise ValueError("This classifier reads the pooler output; build the backbone with its pooler.")
            return self.classifier(self.dropout(pooled_output, training=training))
        first = sequence_output[:, 0]
        if self.style == "first_token":
            hidden = self.activation(self.dense(self.dropout(first, training=training)))
            return self.out_proj(self.dropout(hidden, training=training))
        activation = tf.nn.relu if self.style == "pre_classifier" else self.activation
        hidden = self.dropout(activation(self.pre_classifier(first)), training=training)
        return self.classifier(hidden)


class TokenHead(Group):
    """Dropout and one projection on every token: token classification (`classifier`) and the span start/end
    logits of question answering (`qa_outputs`, two units).

    Example:
        >>> head = TokenHead(2, 768, "qa_outputs", dropout=0.0)
    """

    def __init__(self, units: int, hidden_size: int, path: str, dropout: float = 0.0,
                 initializer_range: float = 0.02, **kwargs):
        super().__init__(**kwargs)
        self.projection_path, self.hidden_size = path, hidden_size
        self.dropout = keras.layers.Dropout(dropout, name="dropout")
        self.projection = _dense(units, path, initializer_range)

    def layer_paths(self) -> dict[str, str]:
        """Attribute name -> checkpoint path of this head's layers."""
        return {"projection": self.projection_path}

    def build(self, input_shape=None):
        build_at(self.projection, self.projection_path, (None, None, self.hidden_size))

    def call(self, sequence_output, training=False):
        return self.projection(self.dropout(sequence_output, training=training))


class BiasLayer(keras.layers.Layer):
    """One bias vector, stored as the variable `variable_name` of this layer (a checkpoint name such as
    `mlm___cls/predictions/bias`)."""

    def __init__(self, size: int, variable_name: str = "bias", **kwargs):
        super().__init__(**kwargs)
        self.size, self.variable_name = size, variable_name

    def build(self, input_shape=None):
        self.bias = self.add_weight(name=self.variable_name, shape=(self.size,), initializer="zeros")

    def call(self, logits):
        return logits + tf.cast(self.bias, logits.dtype)

    def set_value(self, value) -> None:
        """Assign `value`; a vector of another length replaces the variable (a resized vocabulary)."""
        value = np.asarray(keras.ops.convert_to_numpy(value), dtype=np.float32)
        if value.shape != tuple(self.bias.shape):
            replace_variable(self, "bias", value)
            self.size = value.shape[0]
        else:
            self.bias.assign(value)


def _bias_at(path: str, size: int) -> BiasLayer:
    owner, _, variable = path.rpartition("/")
    return BiasLayer(size, variable, name=leaf(owner))


class MaskedLMHead(Group):
    """Transform (dense, activation, LayerNorm) and the projection onto the vocabulary through the word
    embeddings of the embeddings block it is given (tied), plus a bias. The head holds the whole block, as the
    reference's heads do (its h5 files list the block's weights under the head too).

    `paths`: `dense`, `norm` (optional), `bias` (the bias variable's path), `decoder_bias` (optional: ALBERT keeps
    a copy of the bias under `predictions/decoder/bias`); `bias_first` puts the bias before the transform in the
    variable order (BERT, RoBERTa, ALBERT) rather than after it (DistilBERT, ELECTRA), and `norm_before_dense` the
    LayerNorm before the dense (ELECTRA's order; the computation is the same).

    Example:
        >>> head = MaskedLMHead(backbone.embeddings, 768, paths, activation="gelu")
    """

    def __init__(self, embeddings: keras.layers.Layer, hidden_size: int, paths: dict[str, str], activation: str = "gelu",
                 layer_norm_eps: float = 1e-12, initializer_range: float = 0.02, bias_first: bool = True,
                 norm_before_dense: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.paths, self.hidden_size = dict(paths), hidden_size
        self.embedding_dim = embeddings.word_embeddings.output_dim
        vocab_size = embeddings.word_embeddings.input_dim
        if bias_first:
            self.bias_layer = _bias_at(paths["bias"], vocab_size)
        self.decoder_bias = _bias_at(paths["decoder_bias"], vocab_size) if "decoder_bias" in paths else None
        norm = (keras.layers.LayerNormalization(epsilon=layer_norm_eps, name=leaf(paths["norm"]))
                if "norm" in paths else None)
        if norm_before_dense:
            self.norm = norm
        self.dense = _dense(self.embedding_dim, paths["dense"], initializer_range)
        if not norm_before_dense:
            self.norm = norm
        self.activation = get_activation(activation)
        if not bias_first:
            self.bias_layer = _bias_at(paths["bias"], vocab_size)
        self.embeddings = embeddings

    def layer_paths(self) -> dict[str, str]:
        """Attribute name -> checkpoint path of this head's layers."""
        roles = {"bias_layer": "bias", "decoder_bias": "decoder_bias"}
        paths = {role: self.paths[key].rpartition("/")[0] for role, key in roles.items() if key in self.paths}
        return {**paths, "dense": self.paths["dense"], **({"norm": self.paths["norm"]} if "norm" in self.paths
                                                          else {})}

    def build(self, input_shape=None):
        paths = self.paths
        build_at(self.bias_layer, paths["bias"].rpartition("/")[0])
        if self.decoder_bias is not None:
            build_at(self.decoder_bias, paths["decoder_bias"].rpartition("/")[0])
        build_at(self.dense, paths["dense"], (None, None, self.hidden_size))
        if self.norm is not None:
            build_at(self.norm, paths["norm"], (None, None, self.embedding_dim))

    def call(self, sequence_output):
        hidden = self.activation(self.dense(sequence_output))
        if self.norm is not None:
            hidden = self.norm(hidden)
        return self.bias_layer(self.embeddings.word_embeddings.attend(hidden))

    def get_output_embeddings(self) -> TokenEmbedding:
        """The tied word embeddings (the decoder)."""
        return self.embeddings.word_embeddings

    def get_bias(self) -> dict:
        """`{"bias": variable}`."""
        return {"bias": self.bias_layer.bias}

    def set_bias(self, value: dict) -> None:
        """Set the bias (and its copy, if any) from `{"bias": array}`."""
        self.bias_layer.set_value(value["bias"])
        if self.decoder_bias is not None:
            self.decoder_bias.set_value(value["bias"])

    def resize_bias(self, new_num_tokens: int) -> None:
        """Keep the first rows of the bias, zeros for new tokens."""
        old = keras.ops.convert_to_numpy(self.bias_layer.bias.value)
        new = np.zeros((new_num_tokens,), dtype=old.dtype)
        new[: min(len(old), new_num_tokens)] = old[:new_num_tokens]
        self.set_bias({"bias": new})


class TokenScoreHead(Group):
    """One score per token: `dense` with the activation, then `dense_prediction` to one unit (ELECTRA's
    replaced-token discriminator).

    Example:
        >>> head = TokenScoreHead(256, {"dense": "discriminator_predictions/dense",
        ...                             "dense_prediction": "discriminator_predictions/dense_prediction"})
    """

    def __init__(self, hidden_size: int, paths: dict[str, str], activation: str = "gelu",
                 initializer_range: float = 0.02, **kwargs):
        super().__init__(**kwargs)
        self.paths, self.hidden_size = dict(paths), hidden_size
        self.dense = _dense(hidden_size, paths["dense"], initializer_range)
        self.activation = get_activation(activation)
        self.dense_prediction = _dense(1, paths["dense_prediction"], initializer_range)

    def layer_paths(self) -> dict[str, str]:
        """Attribute name -> checkpoint path of this head's layers."""
        return dict(self.paths)

    def build(self, input_shape=None):
        build_at(self.dense, self.paths["dense"], (None, None, self.hidden_size))
        build_at(self.dense_prediction, self.paths["dense_prediction"], (None, None, self.hidden_size))

    def call(self, sequence_output):
        return tf.squeeze(self.dense_prediction(self.activation(self.dense(sequence_output))), -1)


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
        """The tied token embeddings."""
        return self.embeddings

    def get_bias(self) -> None:
        """None: this head has no bias."""
        return None

    def set_bias(self, value) -> None:
        """Refused: this head has no bias."""
        raise NotImplementedError("This LM head has no bias to set: its logits are the tied embeddings' alone.")

    def resize_bias(self, new_num_tokens: int) -> None:
        """Nothing to resize: the head follows the embeddings."""


class SequenceSummary(Group):
    """The reference's `SequenceSummary` (GPT-2's multiple-choice head): one hidden state per sequence
    (`summary_type` `cls_index`: the token at `cls_index`, default the last), dropout (`summary_first_dropout`),
    the `summary` projection (to `num_labels` with `summary_proj_to_labels`, else to the hidden size; none
    without `summary_use_proj`; `num_labels` overrides the config's), `summary_activation`, dropout
    (`summary_last_dropout`). As in the reference, `last`, `first` and `mean` read the second axis: of the
    double-heads model's `[batch, choices, seq, hidden]`, the choices.

    Example:
        >>> head = SequenceSummary(config, "multiple_choice_head/summary", name="multiple_choice_head")
        >>> head(hidden_states, mc_token_ids)  # [batch, choices, seq, hidden] -> [batch, choices, 1]
    """

    TYPES = ("cls_index", "last", "first", "mean")

    def __init__(self, config, path: str, num_labels: int | None = None, **kwargs):
        super().__init__(**kwargs)
        num_labels = config.num_labels if num_labels is None else num_labels
        if config.summary_type not in self.TYPES:
            raise ConfigError(f"summary_type={config.summary_type!r} is not supported; use one of {self.TYPES}.")
        self.summary_type, self.summary_path, self.hidden_size = config.summary_type, path, config.hidden_size
        self.first_dropout = keras.layers.Dropout(config.summary_first_dropout, name="first_dropout")
        self.summary = None
        if config.summary_use_proj:
            to_labels = config.summary_proj_to_labels and num_labels > 0
            self.summary = keras.layers.Dense(num_labels if to_labels else config.hidden_size,
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
