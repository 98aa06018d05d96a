"""The reference's two h5 layouts: Keras 2 `save_weights` (unsharded) and the flat layout of its shards."""

from __future__ import annotations

from collections.abc import Callable

import h5py
import numpy as np

from tfmodels.checkpoints.base import FORMAT_TF, LazyArray, WeightFile, check_weight_file
from tfmodels.checkpoints.names import strip_model_name
from tfmodels.errors import CheckpointError

HDF5_OBJECT_HEADER_LIMIT = 64512


def save_attributes(group: h5py.Group, name: str, values: list[str]) -> None:
    """Store a list of strings as attribute `name`, split into `name0`, `name1`, ... when it exceeds HDF5's
    64 KB object-header limit (the Keras/reference scheme)."""
    encoded = [v.encode("utf-8") for v in values]
    too_long = [v for v in encoded if len(v) > HDF5_OBJECT_HEADER_LIMIT]
    if too_long:
        raise CheckpointError(
            f"Cannot store a name longer than {HDF5_OBJECT_HEADER_LIMIT} bytes in h5: {too_long[0][:80]!r}..."
        )
    data = np.asarray(encoded) if encoded else np.zeros((0,), dtype="S1")
    num_chunks = 1
    chunks = np.array_split(data, num_chunks)
    while any(chunk.nbytes > HDF5_OBJECT_HEADER_LIMIT for chunk in chunks):
        num_chunks += 1
        chunks = np.array_split(data, num_chunks)
    if num_chunks > 1:
        for i, chunk in enumerate(chunks):
            group.attrs[f"{name}{i}"] = chunk
    else:
        group.attrs[name] = data


def load_attributes(group: h5py.Group, name: str) -> list[str]:
    """Read a string-list attribute written by `save_attributes` (plain or chunked)."""
    if name in group.attrs:
        values = list(group.attrs[name])
    else:
        values = []
        index = 0
        while f"{name}{index}" in group.attrs:
            values.extend(group.attrs[f"{name}{index}"])
            index += 1
    return [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in values]


def read_h5(path: str) -> WeightFile:
    """Open `tf_model.h5` or one of its shards; either layout is detected from the file."""
    check_weight_file(path)
    try:
        handle = h5py.File(path, "r")
    except OSError as err:
        raise CheckpointError(f"{path} is not a readable h5 file ({err}).") from None

    def lazy(dataset: h5py.Dataset) -> LazyArray:
        def rows(start: int, stop: int, out: np.ndarray | None = None) -> np.ndarray:
            if out is None:
                return dataset[start:stop]
            dataset.read_direct(out, np.s_[start:stop])
            return out

        return LazyArray(tuple(dataset.shape), dataset.dtype, lambda: dataset[()], rows if dataset.shape else None)

    tensors: dict[str, LazyArray] = {}
    try:
        layer_names = load_attributes(handle, "layer_names")
        for layer_name in layer_names:
            item = handle.get(layer_name)
            if isinstance(item, h5py.Dataset):  # shard layout: datasets at the root, names already stripped
                tensors.setdefault(layer_name[:-2] if layer_name.endswith(":0") else layer_name, lazy(item))
            elif isinstance(item, h5py.Group):  # Keras layout: a group per layer listing full weight names
                for weight_name in load_attributes(item, "weight_names"):
                    dataset = item.get(weight_name)
                    if not isinstance(dataset, h5py.Dataset):
                        raise CheckpointError(f"{path}: layer {layer_name!r} lists {weight_name!r}, which is missing.")
                    tensors.setdefault(strip_model_name(weight_name), lazy(dataset))
            else:
                raise CheckpointError(f"{path}: 'layer_names' lists {layer_name!r}, which is not in the file.")
    except CheckpointError:
        handle.close()
        raise
    except (OSError, KeyError, ValueError) as err:
        handle.close()
        raise CheckpointError(f"{path} is not a readable TF h5 checkpoint ({err}).") from None
    return WeightFile(path=path, names=FORMAT_TF, tensors=tensors, close=handle.close)


def write_h5(path: str, layers: list[tuple[str, list[str]]], value: Callable[[str], np.ndarray],
             keras_version: str) -> None:
    """Write the Keras 2 `save_weights` layout: `layers` is `[(layer name, [full weight names])]`; `value(name)`
    gives a weight's array, fetched one at a time so the file is written without a second copy of the model."""
    with h5py.File(path, "w") as handle:
        save_attributes(handle, "layer_names", [name for name, _ in layers])
        handle.attrs["backend"] = b"tensorflow"
        handle.attrs["keras_version"] = keras_version.encode("utf-8")
        for layer_name, weight_names in sorted(layers, key=lambda item: item[0]):
            group = handle.create_group(layer_name)
            save_attributes(group, "weight_names", weight_names)
            for weight_name in weight_names:
                group.create_dataset(weight_name, data=value(weight_name))
        top = handle.create_group("top_level_model_weights")
        save_attributes(top, "weight_names", [])


def write_h5_shard(path: str, weights: list[tuple[str, np.ndarray | LazyArray]]) -> None:
    """Write one shard in the reference's flat layout: `weights` is `[(model-name-free name with :0, value)]`; a
    `LazyArray` value is loaded when written, so one tensor at a time is in memory."""
    weights = sorted(weights, key=lambda item: item[0])
    with h5py.File(path, "w") as handle:
        save_attributes(handle, "layer_names", [name for name, _ in weights])
        for name, value in weights:
            handle.create_dataset(name, data=value.load() if isinstance(value, LazyArray) else value)
