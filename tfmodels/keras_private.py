"""Every private Keras API the model kit (`tfmodels`) uses, in one place: what, where, why, and the public
alternative considered. The training package keeps its own list (`keras_integration/keras_private.py`, which also
checks the Keras version on import); a test checks both lists against the code (tests/test_dependencies.py).

Example:
    >>> from tfmodels.keras_private import sublayers
"""

from __future__ import annotations

import contextlib

import keras
import numpy as np

import keras_integration.keras_private  # noqa: F401  (refuses a Keras older than MIN_KERAS before keras.src)
from keras.src.backend.common.name_scope import current_path


def scopeless_name_scope(layer: keras.layers.Layer) -> contextlib.AbstractContextManager:
    """What `Layer._open_name_scope` returns for a `tfmodels.layers.paths.Group`: no scope. The parent path is
    recorded as Keras' own method records it, so that the group's sublayers resolve to the same paths at build and
    call time."""
    if layer._parent_path is None:
        layer._parent_path = current_path()
    return contextlib.nullcontext()


def sublayers(layer: keras.layers.Layer, include_self: bool = False) -> list[keras.layers.Layer]:
    """Every layer nested in `layer` at any depth, as Keras tracks them (`layer` itself first if `include_self`).

    Example:
        >>> [type(sub).__name__ for sub in sublayers(keras.Sequential([keras.layers.Dense(2)]))]
        ['Dense']
    """
    return list(layer._flatten_layers(include_self=include_self, recursive=True))


def in_xla_compilation() -> bool:
    """Whether the function being traced will be compiled by XLA (`tf.function(jit_compile=True)`, which
    `generate(jit_compile=True)` and Keras' `jit_compile` use): TensorFlow enters an XLA control-flow context while
    tracing such a function. Eagerly, False.

    Example:
        >>> tf.function(lambda: tf.constant(in_xla_compilation()), jit_compile=True)()  # True
    """
    import tensorflow as tf
    from tensorflow.python.ops import control_flow_util

    return control_flow_util.GraphOrParentsInXlaContext(tf.compat.v1.get_default_graph())


def writable_numpy(tensor) -> np.ndarray:
    """A writable numpy view of a host eager tensor's buffer (`EagerTensor._numpy`; the public `numpy()` copies and
    `np.asarray` is read-only). Only for a tensor the caller created and fills before anything reads it: the
    loader's new weight values, which their variables hold while they are filled (tfmodels/checkpoints/loader.py).

    Example:
        >>> value = tf.raw_ops.Empty(shape=[2, 3], dtype=tf.float32)
        >>> writable_numpy(value)[:] = 1.0  # value now holds ones
    """
    return tensor._numpy()


# name -> (where it is used, why, the public alternative considered)
PRIVATE_APIS: dict[str, tuple[str, str, str]] = {
    "_tracker": (
        "tfmodels/layers/embeddings.py",
        "a built layer's variable is replaced (resize_token_embeddings, prune_heads) under the same path; Keras "
        "locks tracking once a layer is built.",
        "rebuilding the whole model from a new config, which loses the other weights' identity for the optimizer.",
    ),
    "_untrack_variable": (
        "tfmodels/layers/embeddings.py",
        "removes a replaced variable from the layer's tracking, as `Layer.__delattr__` does, but without the "
        "`gc.collect()` that follows it there (2 s of `prune_heads` on a tiny model in a large process).",
        "`delattr(layer, name)`, the public path, which collects garbage on every call.",
    ),
    "_kernel": (
        "tfmodels/layers/embeddings.py",
        "`Dense.kernel` is a read-only property over `_kernel` (LoRA-aware); pruning replaces the variable itself. "
        "tfmodels/lora.py reads `_kernel` too: under LoRA `Dense.kernel` is the kernel plus the adapter, where "
        "module paths, shapes and merging need the base variable.",
        "a custom Dense layer, which would change every weight name in checkpoints.",
    ),
    "_flatten_layers": (
        "tfmodels/keras_private.py",
        "`sublayers` (here): every nested layer, as Keras tracks them, for LoRA's projections (tfmodels/lora.py), "
        "the transformer stacks of gradient checkpointing (tfmodels/modeling.py) and the dropout seeds it rewinds "
        "(tfmodels/layers/transformer.py).",
        "`Model.layers`, which lists only direct children (and layers have none); walking attributes ourselves, "
        "which would miss Keras' tracking rules (lists, dicts, wrappers).",
    ),
    "_parent_path": (
        "tfmodels/keras_private.py",
        "`scopeless_name_scope` (here) records where a `Group` sits, as `Layer._open_name_scope` does.",
        "see `_open_name_scope`",
    ),
    "_open_name_scope": (
        "tfmodels/layers/paths.py",
        "a `Group` holds layers without adding its name to their variable paths, which are checkpoint names: "
        "GPT-2's blocks sit directly under `transformer/`, DistilBERT's masked-LM head is three top-level layers. "
        "`scopeless_name_scope` (here) records `Layer._parent_path` with Keras' `current_path`, as Keras does.",
        "nesting plain Python objects, which Keras does not track (their weights would be lost to saving and "
        "training).",
    ),
    "_default_save_signature": (
        "tfmodels/modeling.py",
        "every Keras model offers TensorFlow's SavedModel writer a default signature built from its build shapes: "
        "one float32 tensor of unknown shape as the first input. Saving traces it; for a model whose first input "
        "is not enough to run (Whisper's features without decoder ids) the trace fails and the export with it. "
        "`TFPreTrainedModel` returns None: exports carry the serving signatures `serving` writes.",
        "none: tf.saved_model.save collects every tf.function attribute of a tracked object, this one included.",
    ),
}

# TensorFlow's private attributes in use: name -> (where, why, the public alternative considered)
PRIVATE_TF_APIS: dict[str, tuple[str, str, str]] = {
    "_numpy": (
        "tfmodels/keras_private.py",
        "`writable_numpy` (here): the loader fills a weight's new value, which the variable holds, slice by slice. "
        "Writing the slices into the variable with `ResourceStridedSliceAssign` puts it in copy-on-read mode for "
        "good (every dense read copies it: a loaded 1.1B Llama's forward pass about 1.4x slower).",
        "`tf.concat` of the slices (a second full copy at once), `TensorStridedSliceUpdate` per slice (a full copy "
        "per slice: 3.30 GiB peak for the 1.1B Llama, over its limit), numpy buffers assigned through DLPack "
        "(TensorFlow's pooled allocator then keeps every replaced buffer: 4.68 GiB).",
    ),
    "GraphOrParentsInXlaContext": (
        "tfmodels/keras_private.py",
        "`in_xla_compilation` (here): a mixture of experts gathers each expert's tokens with `tf.where`, whose "
        "dynamic shape XLA pads and then computes wrongly; under XLA it runs each expert in use on every token "
        "instead (tfmodels/layers/moe.py).",
        "none public: `tf.function` exposes no 'compiling with XLA' flag to the code it traces; a flag passed by "
        "every caller would miss the user's own `tf.function(jit_compile=True)` and Keras' `jit_compile`.",
    ),
    "_descriptor_cache": (
        "tfmodels/lora.py",
        "a `tf.function` method keeps its per-instance traced functions there; LoRA and gradient checkpointing "
        "change the variables or the graph, so `reset_compiled_functions` drops this model's entry (they retrace).",
        "none in TensorFlow's public API: `experimental_get_tracing_count` only counts, and a new model instance "
        "would lose the trained weights' identity.",
    ),
}
