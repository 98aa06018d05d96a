"""`TokenEmbedding` (a lookup table that can also project back onto the vocabulary, for tied LM heads) and
`TextEmbeddings` (word, position and token-type embeddings as each encoder architecture configures them)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import keras
import numpy as np
import tensorflow as tf

from tfmodels.layers.core import get_initializer, shape_dim
from tfmodels.layers.paths import build_at, leaf


class TokenEmbedding(keras.layers.Layer):
    """An embedding matrix `[input_dim, output_dim]` stored under `variable_name` (`weight` for BERT's word
    embeddings, `embeddings` elsewhere, as in the reference's files).

    Example:
        >>> wte = TokenEmbedding(50257, 768, variable_name="embeddings", name="wte")
        >>> logits = wte.attend(hidden_states)  # tied output projection
    """

    def __init__(self, input_dim: int, output_dim: int, initializer_range: float = 0.02,
                 variable_name: str = "embeddings", **kwargs):
        super().__init__(**kwargs)
        self.input_dim = input_dim
        self.output_dim = output_dim
        self.initializer_range = initializer_range
        self.variable_name = variable_name

    def build(self, input_shape=None):
        self.embeddings = self.add_weight(
            name=self.variable_name, shape=(self.input_dim, self.output_dim),
            initializer=get_initializer(self.initializer_range),
        )

    def call(self, ids: tf.Tensor) -> tf.Tensor:
        return tf.gather(self.embeddings, ids)

    def attend(self, hidden_states: tf.Tensor) -> tf.Tensor:
        """Project hidden states onto the vocabulary with the transposed matrix."""
        matrix = tf.cast(self.embeddings, hidden_states.dtype)
        if hidden_states.shape.rank == 3:  # one 2-D matmul: about twice as fast on CPU as a broadcast one
            flat = tf.matmul(tf.reshape(hidden_states, [-1, self.output_dim]), matrix, transpose_b=True)
            return tf.reshape(flat, [shape_dim(hidden_states, 0), shape_dim(hidden_states, 1), matrix.shape[0]])
        return tf.matmul(hidden_states, matrix, transpose_b=True)

    def set_matrix(self, value) -> None:
        """Replace the matrix by `value` (any shape `[rows, output_dim]`), keeping the variable's name."""
        value = np.asarray(keras.ops.convert_to_numpy(value), dtype=np.float32)
        if value.ndim != 2 or value.shape[1] != self.output_dim:
            raise ValueError(f"Expected an embedding matrix [rows, {self.output_dim}]; received shape {value.shape}.")
        if value.shape[0] != self.input_dim:
            replace_variable(self, "embeddings", value)
            self.input_dim = value.shape[0]
        else:
            self.embeddings.assign(value)

    def resize(self, new_num_tokens: int) -> None:
        """Keep the first rows and initialise any new ones like a fresh matrix."""
        self.set_matrix(resized_rows(keras.ops.convert_to_numpy(self.embeddings.value), new_num_tokens,
                                     self.initializer_range))


class ScaledTokenEmbedding(TokenEmbedding):
    """Token embeddings multiplied by `scale` in their output dtype (Gemma's `sqrt(hidden_size)`, rounded to the
    compute dtype as the reference rounds it to the weights'); the tied output projection (`attend`) is unscaled.

    Example:
        >>> embed_tokens = ScaledTokenEmbedding(256000, 2048, scale=2048 ** 0.5, name="embed_tokens")
    """

    def __init__(self, input_dim: int, output_dim: int, scale: float, initializer_range: float = 0.02, **kwargs):
        super().__init__(input_dim, output_dim, initializer_range, **kwargs)
        self.scale = float(scale)

    def call(self, ids: tf.Tensor) -> tf.Tensor:
        embedded = super().call(ids)
        return embedded * tf.cast(self.scale, embedded.dtype)


def resized_rows(old: np.ndarray, new_num_tokens: int, initializer_range: float) -> np.ndarray:
    """`old`'s `[vocab, dim]` rows resized to `new_num_tokens`: the first ones kept, any new ones drawn like a fresh
    matrix's (`get_initializer(initializer_range)`), in `old`'s dtype.

    Example:
        >>> resized_rows(np.ones((4, 2), np.float32), 6, 0.02).shape  # rows 0-3 kept, 4-5 new
        (6, 2)
    """
    if new_num_tokens <= old.shape[0]:
        return old[:new_num_tokens]
    fresh = get_initializer(initializer_range)((new_num_tokens - old.shape[0], old.shape[1]))
    return np.concatenate([old, keras.ops.convert_to_numpy(fresh).astype(old.dtype)], axis=0)


def remove_variable(layer: keras.layers.Layer, attribute: str) -> None:
    """Delete the variable `layer.<attribute>` and stop tracking it: what `del layer.<attribute>` does, without the
    `gc.collect()` Keras' `Layer.__delattr__` runs after it (seconds per call in a large process; pruning replaces
    8 variables per layer, merging LoRA removes 2 per projection).

    Example:
        >>> remove_variable(dense, "lora_kernel_a")
    """
    layer._untrack_variable(getattr(layer, attribute))
    super(keras.layers.Layer, layer).__delattr__(attribute)


def replace_variable(layer: keras.layers.Layer, attribute: str, value: np.ndarray,
                     make_variable: Callable[[np.ndarray, bool], keras.Variable] | None = None) -> None:
    """Swap `layer.<attribute>` for a new variable of `value`'s shape, with the same name and path.
    `make_variable(value, trainable)`, when given, creates it instead of `layer.add_weight` under the layer's path
    (a variable outside the layer's scope, as BART's `final_logits_bias`).

    Example:
        >>> replace_variable(dense, "bias", np.zeros(8, np.float32))  # dense.bias.shape == (8,), same path
    """
    old = getattr(layer, attribute)
    name, trainable = old.name, old.trainable
    remove_variable(layer, attribute)
    parent_path, _, scope = layer.path.rpartition("/")
    layer._tracker.unlock()
    try:
        if make_variable is not None:
            new = make_variable(value, trainable)
        else:
            with keras.name_scope(scope, override_parent=parent_path):
                new = layer.add_weight(name=name, shape=value.shape, initializer="zeros", trainable=trainable)
        setattr(layer, attribute, new)
    finally:
        layer._tracker.lock()
    new.assign(value.astype(new.dtype))


def replace_dense_weights(dense: keras.layers.Dense, kernel: np.ndarray, bias: np.ndarray | None) -> None:
    """Give a built Dense layer new kernel and bias values of any shape, keeping names, paths and order (`bias`
    None for a Dense without one)."""
    replace_variable(dense, "_kernel", kernel)
    if bias is not None:
        replace_variable(dense, "bias", bias)  # replaced second so that the variable order stays kernel, bias
    dense.units = kernel.shape[1]
    dense.input_spec = keras.layers.InputSpec(min_ndim=2, axes={-1: kernel.shape[0]})


@dataclasses.dataclass(frozen=True)
class EmbeddingNames:
    """Paths inside an embeddings block: the word, position and token-type tables (None when absent) and the
    LayerNorm; `word_variable` is the word table's variable name (`weight` in BERT-family files)."""

    word: str = "word_embeddings"
    position: str | None = "position_embeddings"
    token_type: str | None = "token_type_embeddings"
    norm: str | None = "LayerNorm"
    word_variable: str = "weight"


def sinusoidal_table(positions: int, dim: int) -> np.ndarray:
    """DistilBERT's fixed sinusoidal position table (`sinusoidal_pos_embds=True`)."""
    angles = np.arange(positions)[:, None] / np.power(10000, 2 * (np.arange(dim)[None, :] // 2) / dim)
    table = np.zeros((positions, dim), np.float32)
    table[:, 0::2] = np.sin(angles[:, 0::2])
    table[:, 1::2] = np.cos(angles[:, 1::2])
    return table


class TextEmbeddings(keras.layers.Layer):
    """Word embeddings plus learned absolute positions and optional token types, normalised and dropped out.

    `padding_idx` selects RoBERTa's positions: counted from `padding_idx + 1` over the non-padding tokens of
    `input_ids` (padding keeps position `padding_idx`); `sinusoidal` fills the position table with DistilBERT's
    fixed sinusoids (not trained).

    Example:
        >>> embeddings = TextEmbeddings(30522, 768, 512, type_vocab_size=2, name="embeddings")
    """

    def __init__(self, vocab_size: int, dim: int, max_positions: int, type_vocab_size: int = 0,
                 names: EmbeddingNames = EmbeddingNames(), layer_norm_eps: float = 1e-12, dropout: float = 0.1,
                 initializer_range: float = 0.02, padding_idx: int | None = None, sinusoidal: bool = False,
                 **kwargs):
        super().__init__(**kwargs)
        self.dim, self.names = dim, names
        self.padding_idx, self.sinusoidal = padding_idx, sinusoidal
        self.word_embeddings = TokenEmbedding(vocab_size, dim, initializer_range, variable_name=names.word_variable,
                                              name=leaf(names.word))
        self.token_type_embeddings = None
        if names.token_type is not None and type_vocab_size:
            self.token_type_embeddings = TokenEmbedding(type_vocab_size, dim, initializer_range,
                                                        name=leaf(names.token_type))
        self.position_embeddings = None
        if names.position is not None:
            self.position_embeddings = TokenEmbedding(max_positions, dim, initializer_range,
                                                      name=leaf(names.position))
        self.LayerNorm = None
        if names.norm is not None:
            self.LayerNorm = keras.layers.LayerNormalization(epsilon=layer_norm_eps, name=leaf(names.norm))
        self.dropout = keras.layers.Dropout(dropout, name="dropout")

    def build(self, input_shape=None):
        names = self.names
        build_at(self.word_embeddings, names.word)
        if self.token_type_embeddings is not None:
            build_at(self.token_type_embeddings, names.token_type)
        if self.position_embeddings is not None:
            build_at(self.position_embeddings, names.position)
            if self.sinusoidal:
                table = self.position_embeddings
                table.embeddings.assign(sinusoidal_table(table.input_dim, self.dim))
                table.embeddings.trainable = False
        if self.LayerNorm is not None:
            build_at(self.LayerNorm, names.norm, (None, None, self.dim))

    @property
    def max_sequence_length(self) -> int | None:
        """The longest input the position table covers (RoBERTa's positions start at `padding_idx + 1`); None
        without positions."""
        if self.position_embeddings is None:
            return None
        offset = 0 if self.padding_idx is None else self.padding_idx + 1
        return self.position_embeddings.input_dim - offset

    def position_ids(self, input_ids, inputs_embeds, past_length=0) -> tf.Tensor:
        """The default positions: `past_length ...` or, with `padding_idx`, RoBERTa's padding-aware positions."""
        length = shape_dim(inputs_embeds, 1)
        if self.padding_idx is None:
            return tf.range(past_length, length + past_length)[None, :]
        if input_ids is None:
            return tf.range(self.padding_idx + 1, length + self.padding_idx + 1)[None, :]
        mask = tf.cast(tf.not_equal(input_ids, self.padding_idx), tf.int32)
        return (tf.cumsum(mask, axis=1) + past_length) * mask + self.padding_idx

    def call(self, input_ids=None, position_ids=None, token_type_ids=None, inputs_embeds=None, past_length=0,
             training=False):
        if inputs_embeds is None:
            inputs_embeds = self.word_embeddings(input_ids)
        embeddings = inputs_embeds
        if self.position_embeddings is not None:
            if position_ids is None:
                position_ids = self.position_ids(input_ids, inputs_embeds, past_length)
            embeddings = embeddings + self.position_embeddings(position_ids)
        if self.token_type_embeddings is not None:
            if token_type_ids is None:
                token_type_ids = tf.zeros(tf.shape(inputs_embeds)[:-1], dtype=tf.int32)
            embeddings = embeddings + self.token_type_embeddings(token_type_ids)
        if self.LayerNorm is not None:
            embeddings = self.LayerNorm(embeddings)
        return self.dropout(embeddings, training=training)
