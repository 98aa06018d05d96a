"""The one place that assigns checkpoint tensors to a model's variables, whatever the format."""

from __future__ import annotations

import dataclasses
import functools
import logging
import re
from collections.abc import Callable, Iterable

import numpy as np
import tensorflow as tf

from tfmodels.checkpoints.base import FORMAT_PT, LazyArray, WeightFile
from tfmodels.checkpoints.names import (
    modern_pt_name,
    pt_to_tf_axes,
    pt_to_tf_shape,
    same_up_to_unit_dims,
    strip_model_name,
    tf_to_pt_name,
)
from tfmodels.errors import CheckpointError
from tfmodels.keras_private import writable_numpy

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class LoadingInfo:
    """What a load matched: `missing_keys` (model weights not in the checkpoint), `unexpected_keys` (checkpoint
    tensors the model has no use for) and `mismatched_keys` (`(name, checkpoint shape, model shape)`)."""

    missing_keys: list[str]
    unexpected_keys: list[str]
    mismatched_keys: list[tuple[str, tuple, tuple]]
    ignored_missing_keys: list[str] = dataclasses.field(default_factory=list)

    def as_dict(self) -> dict[str, list]:
        return {"missing_keys": self.missing_keys, "unexpected_keys": self.unexpected_keys,
                "mismatched_keys": self.mismatched_keys}


@dataclasses.dataclass
class _Target:
    variable: object
    key: str  # model-name-free TF key
    transpose: str = "none"


_SLICE_BYTES = 4 * 2 ** 20  # a larger weight is read and written in slices of about this size


def _read(load: Callable[[], np.ndarray], name: str, path: str) -> np.ndarray:
    try:
        return load()
    except CheckpointError:
        raise
    except (OSError, ValueError, KeyError, TypeError, MemoryError) as err:
        raise CheckpointError(
            f"Cannot read tensor {name!r} from {path}: {type(err).__name__}: {err}. The file is damaged; download "
            "or save it again."
        ) from None


def _load_into(variable, lazy: LazyArray, axes: tuple[int, ...] | None, shape: tuple[int, ...], name: str,
               path: str, read_buffer: ReadBuffer) -> bool:
    """Write one checkpoint tensor into `variable`: cast to its dtype, laid out by `axes` (a permutation, or None),
    reshaped to `shape`. Returns whether every value is finite.

    Memory is what a billion-parameter load is about. When the format reads part of a tensor (safetensors, h5) and the
    file's first axis stays whole in the model's layout (as is or transposed), the tensor is read in slices of about
    `_SLICE_BYTES`, copied into a new, uninitialised host tensor of the variable's shape, which the variable takes over
    first, its previous value freed just before; the slices are then written into the memory it now holds (a variable
    that copies what it is assigned, see `_holds`, is assigned the tensor again once it is complete). No full-size copy
    of the file's tensor exists. Writing the slices into the variable with `ResourceStridedSliceAssign`, as before, left
    it in TensorFlow's copy-on-read mode, where every dense read copies it: a loaded 1.1B Llama's forward pass was about
    1.4x slower (0.35-0.43 s, against 0.24-0.32 s now). Otherwise (other formats, layouts that differ by unit axes) it
    is read whole and written by one graph; the variable of a `tf.distribute` strategy is read whole and written by its
    own `assign`. The model is new (`from_pretrained`): a load that fails midway leaves it unusable, and it is dropped.
    """
    rows = lazy.shape[0] if lazy.shape else 0
    row_bytes = int(np.prod(lazy.shape[1:], dtype=np.int64)) * np.dtype(lazy.dtype).itemsize
    layout = tuple(lazy.shape) if axes is None else tuple(lazy.shape[i] for i in axes)
    distributed = isinstance(variable.value, tf.distribute.DistributedValues)
    sliceable = lazy.load_rows is not None and layout == shape and axes in (None, (1, 0)) and not distributed
    if not sliceable or rows * row_bytes <= _SLICE_BYTES:
        value = tf.convert_to_tensor(_read(lazy.load, name, path))
        if distributed:  # a strategy's variable mirrors what its own `assign` writes: the same steps, eagerly
            return bool(_write_whole.python_function(variable, value, axes, shape))
        return bool(_write_whole(variable.value, value, axes, tf.constant(shape, tf.int64)))
    step = max(1, _SLICE_BYTES // max(row_bytes, 1))
    _assign(variable, tf.zeros([0], variable.dtype))  # its previous value is freed before the new one exists
    with tf.device("/cpu:0"):
        value = tf.raw_ops.Empty(shape=shape, dtype=variable.dtype)  # every element is written below
    _assign(variable, value)
    in_place = _holds(variable, value)
    buffer = writable_numpy(value)
    finite = True
    for start in range(0, rows, step):
        stop = min(start + step, rows)
        out = read_buffer.array((stop - start, *lazy.shape[1:]), lazy.dtype)
        part = tf.convert_to_tensor(_read(functools.partial(lazy.load_rows, start, stop, out=out), name, path))
        finite &= _write_slice(buffer, part, axes, start)
    del buffer
    if not in_place:
        _assign(variable, value)
    return finite


class ReadBuffer:
    """The one array a load reads every slice into. With a new array per slice, the reads took 0.19-0.20 s of a
    BERT-base load, against 0.09-0.11 s: 4 MB arrays come and go as fresh memory, whose pages fault on first use."""

    def __init__(self):
        self.bytes = np.empty(0, np.uint8)

    def array(self, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        """An array of `shape` and `dtype` over the buffer, grown first if needed (its previous content is
        not kept)."""
        nbytes = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
        if nbytes > self.bytes.nbytes:
            self.bytes = np.empty(nbytes, np.uint8)
        return self.bytes[:nbytes].view(dtype).reshape(shape)


def _assign(variable, value: tf.Tensor) -> None:
    """`variable`'s value becomes `value`, whatever their shapes (the sliced load's steps, eagerly)."""
    tf.raw_ops.AssignVariableOp(resource=variable.value.handle, value=value, validate_shape=False)


def _holds(variable, value: tf.Tensor) -> bool:
    """Whether `variable` holds `value`'s memory itself. An assign shares the value's buffer with a variable on the
    host; a variable on another device, or one in copy-on-read mode (after a gather), copies it."""
    held = tf.raw_ops.ReadVariableOp(resource=variable.value.handle, dtype=variable.value.dtype)
    if tf.DeviceSpec.from_string(held.device).device_type != "CPU":  # not read back to the host just to compare
        return False
    return np.asarray(held).__array_interface__["data"][0] == np.asarray(value).__array_interface__["data"][0]


def _prepared(value: tf.Tensor, dtype: tf.DType, axes) -> tuple[tf.Tensor, tf.Tensor]:
    """(whether every value of `value` is finite, `value` cast to `dtype` and laid out by `axes`)."""
    finite = tf.reduce_all(tf.math.is_finite(value)) if value.dtype.is_floating else tf.constant(True)
    value = tf.cast(value, dtype)
    return finite, (value if axes is None else tf.transpose(value, axes))


@tf.function(autograph=False, reduce_retracing=True)
def _write_whole(variable, value, axes, shape):
    finite, value = _prepared(value, variable.dtype, axes)
    variable.assign(tf.reshape(value, shape))
    return finite


def _write_slice(buffer: np.ndarray, value: tf.Tensor, axes, start: int) -> bool:
    """Copy the file's rows `start...` (`value`) into `buffer`, the new value of a variable: its rows, or its columns
    when `axes` transposes. Returns whether they are all finite."""
    finite, value = _prepared(value, tf.as_dtype(buffer.dtype), axes)  # eagerly: a tf.function retraced
    # for every new slice shape, dtype and layout (5 of the first 27 calls of a BERT-base load)
    value = np.asarray(value)
    if axes is None:
        buffer[start:start + value.shape[0]] = value
    else:
        buffer[:, start:start + value.shape[1]] = value
    return bool(finite)


def load_weight_files(
    variables: list,
    weight_files: Iterable[Callable[[], WeightFile]],
    base_model_prefix: str = "",
    ignore_mismatched_sizes: bool = False,
    ignore_missing: Iterable[str] = (),
    ignore_unexpected: Iterable[str] = (),
    pt_renames: tuple[tuple[str, str], ...] = (),
) -> LoadingInfo:
    """Assign tensors from `weight_files` (opened one at a time, so peak memory stays near one shard) to
    `variables` (Keras variables, matched by their path without the model-name scope).

    PyTorch keys are matched through the TF -> PyTorch name rules, with `base_model_prefix` added or removed so
    that a head model loads a base checkpoint and the reverse; legacy LayerNorm keys (`LayerNorm.gamma`/`.beta`)
    are matched as their modern names (`modern_pt_name`); `pt_renames` are the architecture's own PyTorch name
    rules (`WeightTable.pt_renames`). Shapes must agree up to size-1 dimensions;
    otherwise a ValueError names the weight and both shapes, unless `ignore_mismatched_sizes`, in which case the
    weight keeps its initial value and is reported in `mismatched_keys`.
    """
    by_tf: dict[str, _Target] = {}
    by_pt: dict[str, _Target] = {}
    for variable in variables:
        key = strip_model_name(variable.path)
        target = _Target(variable, key)
        by_tf.setdefault(key, target)
        pt_key, transpose = tf_to_pt_name(key, len(variable.shape), pt_renames)
        by_pt.setdefault(pt_key, _Target(variable, key, transpose))
    prefix = base_model_prefix + "." if base_model_prefix else ""

    def lookup_pt(name: str) -> _Target | None:
        if name in by_pt:
            return by_pt[name]
        if prefix and name.startswith(prefix):  # base model loading a head checkpoint
            return by_pt.get(name[len(prefix):])
        if prefix:  # head model loading a base checkpoint
            return by_pt.get(prefix + name)
        return None

    def lookup(name: str, names: str) -> _Target | None:
        if names != FORMAT_PT:
            target = by_tf.get(name)
            if target is None and name.endswith("/weight"):  # the reference's pre-Keras-Embedding name of a
                target = by_tf.get(name[: -len("weight")] + "embeddings")  # shared table (older BART files)
            return target
        return lookup_pt(name) or lookup_pt(modern_pt_name(name))  # then legacy LayerNorm `gamma`/`beta`

    loaded: set[str] = set()
    read_buffer = ReadBuffer()
    unexpected: list[str] = []
    mismatched: list[tuple[str, tuple, tuple]] = []
    for open_file in weight_files:
        weight_file = open_file()
        try:
            for name, lazy in weight_file.tensors.items():
                target = lookup(name, weight_file.names)
                if target is None or target.key in loaded:
                    if target is None:
                        unexpected.append(name)
                    continue
                model_shape = tuple(target.variable.shape)
                stored_shape = tuple(lazy.shape)
                if weight_file.names == FORMAT_PT:
                    stored_shape = pt_to_tf_shape(stored_shape, target.transpose)
                if not same_up_to_unit_dims(stored_shape, model_shape):
                    if not ignore_mismatched_sizes:
                        raise ValueError(
                            f"Weight {target.key!r} ({name!r} in {weight_file.path}) has shape {stored_shape} in "
                            f"the checkpoint but {model_shape} in the model. Pass ignore_mismatched_sizes=True to "
                            "keep the model's freshly initialised value for it (e.g. when changing num_labels)."
                        )
                    mismatched.append((target.key, stored_shape, model_shape))
                    loaded.add(target.key)
                    continue
                axes = pt_to_tf_axes(target.transpose, len(lazy.shape)) if weight_file.names == FORMAT_PT else None
                if not _load_into(target.variable, lazy, axes, model_shape, name, weight_file.path, read_buffer):
                    logger.warning("Weight %r (%r in %s) contains NaN or Inf values.", target.key, name,
                                   weight_file.path)
                loaded.add(target.key)
        finally:
            weight_file.close()

    not_loaded = [key for key in by_tf if key not in loaded]
    missing = [k for k in not_loaded if not any(re.search(p, k) for p in ignore_missing)]
    unexpected = [k for k in unexpected if not any(re.search(p, k) for p in ignore_unexpected)]
    return LoadingInfo(missing, unexpected, mismatched, [k for k in not_loaded if k not in missing])
