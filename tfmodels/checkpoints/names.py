"""Weight names: TF variable names, their model-name-free form, the TF -> PyTorch name and transpose rules, and
`WeightTable`, the one declaration of an architecture's names that its layers, the loader and the writer read."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from typing import Any

import numpy as np

TRANSPOSE_NONE = "none"
TRANSPOSE_SIMPLE = "simple"
TRANSPOSE_CONV1D = "conv1d"
TRANSPOSE_CONV2D = "conv2d"


def strip_model_name(name: str) -> str:
    """`tf_bert_model/bert/embeddings/word_embeddings/weight:0` -> `bert/embeddings/word_embeddings/weight`.

    As in the reference, the first component is kept when the name contains `model.` or has a single component.
    """
    name = name[:-2] if name.endswith(":0") else name
    parts = name.split("/")
    if len(parts) > 1 and "model." not in name:
        parts = parts[1:]
    return "/".join(parts)


def tf_to_pt_name(key: str, rank: int, renames: tuple[tuple[str, str], ...] = ()) -> tuple[str, str]:
    """Model-name-free TF key -> (PyTorch state-dict key, transpose kind), by the general rules and then an
    architecture's `renames` (regex, replacement) on the PyTorch key.

    Example:
        >>> tf_to_pt_name("bert/encoder/layer_._0/attention/self/query/kernel", 2)
        ('bert.encoder.layer.0.attention.self.query.weight', 'simple')
    """
    name = re.sub(r"[^/]*___([^/]*)", r"\1", key)  # `mlm___cls` -> `cls`
    name = name.replace("_._", "/")
    name = re.sub(r"/+", "/", name).strip("/")
    parts = name.split("/")
    last = parts[-1]
    if last == "kernel" and rank == 4:
        transpose = TRANSPOSE_CONV2D
    elif last == "kernel" and rank == 3:
        transpose = TRANSPOSE_CONV1D
    elif last in ("kernel", "pointwise_kernel", "depthwise_kernel") or "emb_projs" in name or "out_projs" in name:
        transpose = TRANSPOSE_SIMPLE
    else:
        transpose = TRANSPOSE_NONE
    parts[-1] = _LAST_RENAMES.get(last, last)
    pt_name = ".".join(parts)
    for pattern, replacement in renames:
        pt_name = re.sub(pattern, replacement, pt_name)
    return pt_name, transpose


_LAST_RENAMES = {"kernel": "weight", "embeddings": "weight", "gamma": "weight", "beta": "bias",
                 "pointwise_kernel": "pointwise.weight", "depthwise_kernel": "depthwise.weight"}


def modern_pt_name(key: str) -> str:
    """A PyTorch key with the pre-2020 LayerNorm names renamed as the reference does: the substring `gamma`
    becomes `weight` and `beta` becomes `bias` (bert-base-uncased and many BERT-era checkpoints still ship them).

    Example:
        >>> modern_pt_name("bert.embeddings.LayerNorm.gamma")
        'bert.embeddings.LayerNorm.weight'
    """
    return key.replace("gamma", "weight").replace("beta", "bias")


_PT_TO_TF_AXES = {TRANSPOSE_CONV1D: (2, 1, 0), TRANSPOSE_CONV2D: (2, 3, 1, 0)}


def pt_to_tf_axes(transpose: str, rank: int) -> tuple[int, ...] | None:
    """The axes permutation from a PyTorch array of `rank` to its TF layout, or None when the layouts agree.

    Example:
        >>> pt_to_tf_axes("simple", 2)
        (1, 0)
    """
    if transpose == TRANSPOSE_SIMPLE:
        return tuple(reversed(range(rank)))
    return _PT_TO_TF_AXES.get(transpose)


def pt_to_tf_shape(shape: tuple[int, ...], transpose: str) -> tuple[int, ...]:
    """The TF shape of a PyTorch tensor of `shape` (without touching any data)."""
    axes = pt_to_tf_axes(transpose, len(shape))
    return tuple(shape) if axes is None else tuple(shape[i] for i in axes)


def tf_to_pt_shape(shape: tuple[int, ...], transpose: str) -> tuple[int, ...]:
    """The PyTorch shape of a TF tensor of `shape` (inverse of `pt_to_tf_shape`).

    Example:
        >>> tf_to_pt_shape((3, 5, 7, 2), "conv2d")
        (2, 7, 3, 5)
    """
    axes = pt_to_tf_axes(transpose, len(shape))
    return tuple(shape) if axes is None else tuple(shape[i] for i in np.argsort(axes))


def pt_to_tf_array(array: np.ndarray, transpose: str) -> np.ndarray:
    """Lay out a PyTorch array as its TF counterpart (Dense kernels are transposed, convolutions permuted)."""
    axes = pt_to_tf_axes(transpose, array.ndim)
    return array if axes is None else np.transpose(array, axes)


def tf_to_pt_array(array: np.ndarray, transpose: str) -> np.ndarray:
    """Inverse of `pt_to_tf_array`."""
    axes = pt_to_tf_axes(transpose, array.ndim)
    return array if axes is None else np.transpose(array, np.argsort(axes))


def same_up_to_unit_dims(shape_a: tuple[int, ...], shape_b: tuple[int, ...]) -> bool:
    """True when the shapes differ only by dimensions of size 1 (GPT-2's `[1, n]` bias against PyTorch's `[n]`)."""
    return [d for d in shape_a if d != 1] == [d for d in shape_b if d != 1]


# Heads that pre-trained checkpoints carry (their weights are expected to go unused by task models).
PRETRAINING_TASKS = ("masked_lm", "next_sentence", "sentence_order", "replaced_token_detection")


@dataclasses.dataclass(frozen=True)
class WeightTable:
    """An architecture's weight names, declared once beside its config: the layers place their variables at these
    paths (so the writer writes them), and the loader maps them to PyTorch keys with the general rules
    (`tf_to_pt_name`) plus `pt_renames`.

    - `prefix`: the backbone's name (`bert`), the first path component of every backbone weight.
    - `blocks`: the backbone's block paths and names (embeddings, layers, pooler, ...); what each key means is up
      to the backbone that reads it.
    - `heads`: per task head, its paths relative to the model (`{"sequence_classification": {"classifier":
      "classifier"}}`).
    - `pt_renames`: (regex, replacement) applied to the general PyTorch key, for names the general rules miss.
    - `pt_ignore`: PyTorch keys that carry no weight of ours (buffers such as `position_ids`, decoder matrices
      tied to the word embeddings): never reported as unexpected.
    - `missing_ok`: our weights a checkpoint may lack without it being reported, because the model fills them
      from another weight (ALBERT's `predictions/decoder/bias`, which PyTorch ties to `predictions/bias`).
    - `pt_tied_copies`: our weights (TF keys) that PyTorch ties to another and does not store: the PyTorch
      layout leaves them out (ALBERT's `predictions/decoder/bias`).
    - `pt_squeezed`: PyTorch keys whose size-1 dimensions PyTorch does not store (GPT-2's `[1, n]` Conv1D biases
      are `[n]` there): the PyTorch layout writes them without.

    Example:
        >>> BERT_WEIGHTS.heads["token_classification"]
        {'classifier': 'classifier'}
    """

    prefix: str
    blocks: Mapping[str, Any]
    heads: Mapping[str, Mapping[str, str]] = dataclasses.field(default_factory=dict)
    pt_renames: tuple[tuple[str, str], ...] = ()
    pt_ignore: tuple[str, ...] = ()
    missing_ok: tuple[str, ...] = ()
    pt_tied_copies: tuple[str, ...] = ()
    pt_squeezed: tuple[str, ...] = ()

    def unused_head_patterns(self, used: list[str]) -> list[str]:
        """Patterns matching the weights (TF names or PyTorch keys) of this architecture's pre-training heads other
        than `used`: a pre-trained checkpoint loads into a task model without reporting them as unexpected (a
        fine-tuned head, like `classifier`, is still reported, as the reference does)."""
        mine = {path.split("/")[0] for task in used for path in self.heads.get(task, {}).values()}
        pretraining = {path.split("/")[0] for task in PRETRAINING_TASKS for path in self.heads.get(task, {}).values()}
        return [path_pattern(root) for root in sorted(pretraining - mine)]


def path_pattern(path: str) -> str:
    """A regex matching the weights under `path` in TF names and PyTorch keys alike (`mlm___cls` is also `cls`)."""
    parts = [re.sub(r"^[^/]*___", "", part).replace("_._", ".") for part in path.split("/")]
    return r"(^|[/.])" + r"[/.]".join(r"(\w*___)?" + re.escape(part) for part in parts) + r"[/.]"
