"""The PyTorch layout that transformers (PyTorch), vLLM, TGI and the Hub read: a model's variables under the
state-dict keys of its PyTorch class, in PyTorch's shapes.

The keys come from the architecture's weight table through the same rules the loader reads PyTorch files with
(`tf_to_pt_name` and `pt_renames`), run the other way: kernels transposed, convolutions permuted, GPT-2's `[1, n]`
biases flattened (`pt_squeezed`), and weights PyTorch ties to another and does not store (`pt_tied_copies`) left
out. A weight tied to another in the model is one variable, so it is written once, under the key of the layer that
holds it first (the word embeddings), as transformers writes tied weights.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from typing import Any

import numpy as np
import tensorflow as tf

from tfmodels.checkpoints.base import LazyArray
from tfmodels.checkpoints.names import WeightTable, pt_to_tf_axes, strip_model_name, tf_to_pt_name, tf_to_pt_shape
from tfmodels.errors import CheckpointError


@dataclasses.dataclass(frozen=True)
class PTWeight:
    """One tensor of the PyTorch layout: its state-dict `key`, the Keras `variable` it comes from, how the TF
    layout maps to PyTorch's (`transpose`, a `TRANSPOSE_*` kind of `names.py`) and its PyTorch `shape`."""

    key: str
    variable: Any
    transpose: str
    shape: tuple[int, ...]

    @property
    def dtype(self) -> np.dtype:
        """The variable's dtype (bf16 stays bf16)."""
        return np.dtype(tf.as_dtype(self.variable.dtype).as_numpy_dtype)

    def load(self) -> np.ndarray:
        """The variable's value in PyTorch's layout: one copy of the tensor (transposed by TensorFlow, which uses
        every core, where a layout change is needed)."""
        value = self.variable.value
        axes = pt_to_tf_axes(self.transpose, len(self.variable.shape))
        if axes is not None:
            value = tf.transpose(value, np.argsort(axes))
        return np.asarray(value).reshape(self.shape)

    def lazy(self) -> LazyArray:
        """The tensor as a `LazyArray`, read from the variable when a writer needs its bytes."""
        return LazyArray(self.shape, self.dtype, self.load)


def pytorch_weights(variables: Iterable, table: WeightTable, roots: Iterable[str],
                    strip_prefix: str | None = None, owner: str = "the model") -> list[PTWeight]:
    """`variables` (each once, in order) as the tensors of the PyTorch layout.

    `roots` are the first components of the TF keys that the PyTorch class has (its backbone's and its heads'):
    a variable outside them (a layer added to the model) has no PyTorch name, and a `CheckpointError` names it
    before anything is written. `strip_prefix` is the backbone's name for a bare model, whose PyTorch class has
    no such prefix (`BertModel`'s keys are `embeddings...`, not `bert.embeddings...`).

    Example:
        >>> [w.key for w in pytorch_weights(model.weights, BERT_WEIGHTS, ["bert", "classifier"])][:1]
        ['bert.embeddings.word_embeddings.weight']
    """
    roots = set(roots)
    weights: list[PTWeight] = []
    by_key: dict[str, str] = {}
    seen: set[int] = set()
    for variable in variables:
        if id(variable) in seen:
            continue
        seen.add(id(variable))
        key = strip_model_name(variable.path)
        if any(re.search(pattern, key) for pattern in table.pt_tied_copies):
            continue
        if key.split("/")[0] not in roots:
            raise CheckpointError(
                f"Weight {key!r} of {owner} has no name in the PyTorch layout: its layer is not part of the "
                f"architecture's PyTorch class (whose weights live under {sorted(roots)}). Nothing was written. "
                "Save with safe_serialization=False (tf_model.h5) or weight_names='tf' to keep every weight under "
                "its TF name, or remove the layer."
            )
        pt_key, transpose = tf_to_pt_name(key, len(variable.shape), table.pt_renames)
        if strip_prefix and pt_key.startswith(strip_prefix + "."):
            pt_key = pt_key[len(strip_prefix) + 1:]
        shape = tf_to_pt_shape(tuple(variable.shape), transpose)
        if any(re.search(pattern, pt_key) for pattern in table.pt_squeezed):
            shape = tuple(d for d in shape if d != 1)
        if pt_key in by_key:
            raise CheckpointError(
                f"Weights {by_key[pt_key]!r} and {key!r} of {owner} both map to the PyTorch key {pt_key!r}; the "
                "PyTorch layout cannot hold both. Nothing was written. Save with weight_names='tf' instead."
            )
        by_key[pt_key] = key
        weights.append(PTWeight(pt_key, variable, transpose, shape))
    return weights
