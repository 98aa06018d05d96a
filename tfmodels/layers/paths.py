"""Placing layers at checkpoint paths: the mechanism behind every architecture's weight-name table.

A variable's path (`bert/encoder/layer_._0/attention/self/query/kernel`) is its name in every checkpoint format.
Keras builds it from the name scopes open when the variable is created. The shared blocks therefore take the
paths of their sublayers from the architecture's table and build each sublayer under the scopes those paths name
(`build_at`), and `Group` gathers layers without adding a scope of its own (GPT-2's blocks sit directly under
`transformer/`, and DistilBERT's masked-LM head is three top-level layers).
"""

from __future__ import annotations

import contextlib

import keras

from tfmodels import keras_private


def leaf(path: str) -> str:
    """The layer name of a path: its last component (`self/query` -> `query`)."""
    return path.rsplit("/", 1)[-1]


def build_at(layer: keras.layers.Layer, path: str, input_shape=None) -> None:
    """Build `layer` (named `leaf(path)`) under the scopes of the other components of `path`.

    Example:
        >>> query = keras.layers.Dense(32, name="query")
        >>> build_at(query, "self/query", (None, None, 32))  # inside `attention`'s build: attention/self/query/kernel
    """
    *scopes, name = path.split("/")
    if layer.name != name:
        raise ValueError(f"A layer placed at {path!r} must be named {name!r}; it is named {layer.name!r}.")
    with contextlib.ExitStack() as stack:
        for scope in scopes:
            stack.enter_context(keras.name_scope(scope))
        layer.build(input_shape)


class Group(keras.layers.Layer):
    """A layer that holds sublayers without adding its name to their paths.

    Example:
        >>> class Head(Group): ...  # its Dense named "classifier" saves as `<model>/classifier/kernel`
    """

    def _open_name_scope(self):
        return keras_private.scopeless_name_scope(self)
