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
from tfmodels.checkpoints.names import (
    TRANSPOSE_NONE,
    TRANSPOSE_SIMPLE,
    WeightTable,
    pt_to_tf_axes,
    strip_model_name,
    tf_to_pt_name,
    tf_to_pt_shape,
)
from tfmodels.errors import CheckpointError


@dataclasses.dataclass(frozen=True)
class PTWeight:
    """One tensor of the PyTorch layout: its state-dict `key`, the Keras `variable` it comes from, how the TF
    layout maps to PyTorch's (`transpose`, a `TRANSPOSE_*` kind of `names.py`), its PyTorch `shape`, and whether
    the variable is a lookup table the model reads with `tf.gather` (`gathered`: TensorFlow then keeps it in
    copy-on-read mode, where a dense read copies the whole table and a gather of rows does not)."""

    key: str
    variable: Any
    transpose: str
    shape: tuple[int, ...]
    gathered: bool = False

    @property
    def dtype(self) -> np.dtype:
        """The variable's dtype (bf16 stays bf16)."""
        return np.dtype(tf.as_dtype(self.variable.dtype).as_numpy_dtype)

    def load(self) -> np.ndarray:
        """The variable's value in PyTorch's layout: one copy of the tensor where a layout change is needed, made by
        one `tf.transpose` in the variable's dtype (oneDNN's reorder for float32 and bfloat16: 2-4x faster than
        transposing column slices, or the same bits as integers)."""
        value = self.variable.value
        axes = pt_to_tf_axes(self.transpose, len(self.variable.shape))
        if axes is not None:
            value = tf.transpose(tf.convert_to_tensor(value), np.argsort(axes))
        return np.asarray(value).reshape(self.shape)

    def lazy(self) -> LazyArray:
        """The tensor as a `LazyArray`, read from the variable when a writer needs its bytes, whole or in row
        slices where the file's rows are the variable's rows or (a transposed matrix) its columns."""
        same_rows = self.transpose == TRANSPOSE_NONE and self.shape == tuple(self.variable.shape) != ()
        distributed = isinstance(self.variable.value, tf.distribute.DistributedValues)  # read whole by its strategy
        sliceable = (same_rows or (self.transpose == TRANSPOSE_SIMPLE and len(self.shape) == 2)) and not distributed
        return LazyArray(self.shape, self.dtype, self.load, RowReader(self).rows if sliceable else None)


class RowReader:
    """Rows `[start, stop)` of a `PTWeight` in PyTorch's layout, asked for in order, so that a writer never holds a
    copy of the whole tensor: a gathered lookup table by a gather of those rows; another variable from one read
    of it, released once the last row is out (a variable in TensorFlow's copy-on-read mode, which a gather or a
    sparse update leaves it in, is copied on every dense read: one read per tensor, not per slice)."""

    def __init__(self, weight: PTWeight):
        self.weight = weight
        self.value = None

    def rows(self, start: int, stop: int) -> np.ndarray:
        weight, variable = self.weight, self.weight.variable.value
        if weight.gathered:
            return np.asarray(tf.raw_ops.ResourceGather(resource=variable.handle, indices=tf.range(start, stop),
                                                        dtype=variable.dtype))
        if self.value is None:
            self.value = tf.convert_to_tensor(variable)
        if weight.transpose == TRANSPOSE_NONE:
            block = np.asarray(self.value[start:stop])
        else:  # the file's rows are the kernel's columns
            block = np.asarray(tf.transpose(self.value[:, start:stop]))
        if stop >= weight.shape[0]:
            self.value = None
        return block


def pytorch_weights(variables: Iterable, table: WeightTable, roots: Iterable[str],
                    strip_prefix: str | None = None, owner: str = "the model",
                    lookup_tables: Iterable = ()) -> list[PTWeight]:
    """`variables` (each once, in order) as the tensors of the PyTorch layout.

    `roots` are the first components of the TF keys that the PyTorch class has (its backbone's and its heads'):
    a variable outside them (a layer added to the model) has no PyTorch name, and a `CheckpointError` names it
    before anything is written. `strip_prefix` is the backbone's name for a bare model, whose PyTorch class has
    no such prefix (`BertModel`'s keys are `embeddings...`, not `bert.embeddings...`). `lookup_tables` are the
    variables the model reads with `tf.gather` (embedding tables), which are read back by rows (`PTWeight.gathered`).

    Example:
        >>> [w.key for w in pytorch_weights(model.weights, BERT_WEIGHTS, ["bert", "classifier"])][:1]
        ['bert.embeddings.word_embeddings.weight']
    """
    roots = set(roots)
    gathered = {id(variable) for variable in lookup_tables}
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
        weights.append(PTWeight(pt_key, variable, transpose, shape, id(variable) in gathered))
    return weights
