"""Write a model's weights in the reference's TF layouts or the PyTorch layout, without ever leaving a half-written
checkpoint."""

from __future__ import annotations

import functools
import os
import shutil
import tempfile

import keras
import numpy as np

from tfmodels.checkpoints.base import LazyArray
from tfmodels.checkpoints.h5_format import write_h5, write_h5_shard
from tfmodels.checkpoints.names import strip_model_name
from tfmodels.checkpoints.safetensors_format import read_header, write_safetensors
from tfmodels.checkpoints.sharding import SHARD_PATTERN, index_json, plan_shards, shard_file_name
from tfmodels.errors import CheckpointError
from tfmodels.resolve import SAFE_WEIGHTS_INDEX_NAME, SAFE_WEIGHTS_NAME, TF2_WEIGHTS_INDEX_NAME, TF2_WEIGHTS_NAME

WEIGHT_FILES = (TF2_WEIGHTS_NAME, TF2_WEIGHTS_INDEX_NAME, SAFE_WEIGHTS_NAME, SAFE_WEIGHTS_INDEX_NAME)


def tf_weight_name(variable) -> str:
    """The reference's full TF name of a Keras variable: `<model>/<layers...>/<var>:0`."""
    return variable.path + ":0"


def _unique(variables) -> list:
    seen, result = set(), []
    for variable in variables:
        if id(variable) not in seen:
            seen.add(id(variable))
            result.append(variable)
    return result


def _fetch(variable) -> np.ndarray:
    """A variable's value as a numpy array: the only place a save copies weights out of the model. One copy (the
    read of the variable) rather than `keras.ops.convert_to_numpy`'s two: `np.asarray` wraps the tensor read."""
    return np.asarray(variable.value)


def _h5_groups(model: keras.Model, names: dict[int, str]) -> dict[str, list[str]]:
    """The reference's h5 groups: one per top-level layer name (the first path component, or for a variable outside
    the model's scope, the layer holding it), each listing its weights. A weight a layer shares with an earlier one
    (tied word embeddings) is listed again by that layer, in its group, where the reference's files list it: before
    the layer's own weights if the layer holds it first (T5's encoder and decoder hold the shared table as
    `embed_tokens`), else after them (a head tied to the backbone's embeddings)."""
    groups: dict[str, list[str]] = {}
    owner: set[int] = set()
    for layer in model.h5_layers():
        leading, shared, last = [], [], None
        for variable in _unique(layer.weights):
            if id(variable) in owner:
                (shared if last is not None else leading).append(names[id(variable)])
                continue
            owner.add(id(variable))
            # A variable created outside the model's scope (BART's `model.shared/model.shared/embeddings`) is
            # listed by the top-level layer that holds it, where the reference's loader looks for it.
            inside = variable.path.startswith(model.name + "/")
            last = strip_model_name(variable.path).split("/")[0] if inside else layer.name
            group = groups.setdefault(last, [])
            group += leading
            leading = []
            group.append(names[id(variable)])
        if last is not None:
            groups[last] += shared
    return groups


LAYOUT_TF_H5 = "tf_h5"  # tf_model.h5 (Keras 2 `save_weights` layout) and its shards, TF names
LAYOUT_TF_SAFETENSORS = "tf_safetensors"  # model.safetensors with TF names (`{"format": "tf"}`)
LAYOUT_PT_SAFETENSORS = "pt_safetensors"  # model.safetensors with PyTorch names and shapes (`{"format": "pt"}`)
LAYOUTS = (LAYOUT_TF_H5, LAYOUT_TF_SAFETENSORS, LAYOUT_PT_SAFETENSORS)


def checkpoint_tensors(model: keras.Model, layout: str) -> list[tuple[str, LazyArray]]:
    """The tensors a save in `layout` writes, in order, under their names in the files (each read from its variable
    only when written). For the PyTorch layout, a weight without a PyTorch name raises here, before anything is
    written (`model.pytorch_weights()`)."""
    if layout == LAYOUT_PT_SAFETENSORS:
        return [(weight.key, weight.lazy()) for weight in model.pytorch_weights()]
    return [(tf_weight_name(variable), LazyArray(tuple(variable.shape), np.dtype(variable.dtype),
                                                 functools.partial(_fetch, variable)))
            for variable in _unique(model.weights)]


def _write_files(model: keras.Model, directory: str, max_shard_size: int, layout: str,
                 tensors: list[tuple[str, LazyArray]]) -> list[str]:
    """Write `tensors` (from `checkpoint_tensors(model, layout)`) into `directory` (a staging directory); return
    the file names.

    Every format is written one weight at a time (`LazyArray`s fetched as their bytes are written), so a save
    holds at most one weight in memory beyond the model itself, whatever the shard size.
    """
    safetensors = layout != LAYOUT_TF_H5
    weights_name = SAFE_WEIGHTS_NAME if safetensors else TF2_WEIGHTS_NAME
    sizes = [(name, int(np.prod(lazy.shape, dtype=np.int64)) * np.dtype(lazy.dtype).itemsize)
             for name, lazy in tensors]
    shards = plan_shards(sizes, max_shard_size)
    by_name = dict(tensors)

    if len(shards) == 1 and not safetensors:
        names = {id(v): tf_weight_name(v) for v in _unique(model.weights)}
        layers = list(_h5_groups(model, names).items())
        write_h5(os.path.join(directory, weights_name), layers, lambda name: by_name[name].load(),
                 keras.__version__)
        return [weights_name]

    # TF names in files other than the unsharded h5 leave out the model's scope, as the reference's do.
    file_key = (lambda name: name) if layout == LAYOUT_PT_SAFETENSORS else (lambda name: strip_model_name(name) + ":0")
    metadata = {"format": "pt" if layout == LAYOUT_PT_SAFETENSORS else "tf"}
    files = []
    weight_map = {}
    for i, shard in enumerate(shards, start=1):
        file_name = weights_name if len(shards) == 1 else shard_file_name(weights_name, i, len(shards))
        shard_tensors = [(file_key(name), by_name[name]) for name in shard]
        if safetensors:
            write_safetensors(os.path.join(directory, file_name), dict(shard_tensors), metadata)
        else:
            write_h5_shard(os.path.join(directory, file_name), shard_tensors)
        weight_map.update({name: file_name for name in shard})  # full TF names, as the reference's indexes
        files.append(file_name)
    if len(shards) > 1:
        index_name = SAFE_WEIGHTS_INDEX_NAME if safetensors else TF2_WEIGHTS_INDEX_NAME
        with open(os.path.join(directory, index_name), "w", encoding="utf-8") as handle:
            handle.write(index_json(weight_map, sum(size for _, size in sizes)))
        files.append(index_name)
    return files


def holds_pytorch_layout(directory: str) -> bool:
    """Whether `directory` holds safetensors weights with PyTorch names (`{"format": "pt"}`), as our PyTorch layout
    and transformers write them."""
    if not os.path.isdir(directory):
        return False
    files = sorted(name for name in os.listdir(directory) if name.endswith(".safetensors") and is_weight_file(name))
    try:
        return bool(files) and read_header(os.path.join(directory, files[0]))[1].get("format") == "pt"
    except (CheckpointError, OSError):
        return False


def is_weight_file(name: str) -> bool:
    """True for the files of our checkpoint layouts (the ones a new save replaces)."""
    return name in WEIGHT_FILES or bool(SHARD_PATTERN.match(name))


SAVE_MARKER = ".tfmodels-save-in-progress"
STAGING_PREFIX = ".tfmodels-save-"


def interrupted_save_error(directory: str) -> CheckpointError | None:
    """The error to raise when `directory` holds the marker of a save that never finished, else None."""
    if os.path.exists(os.path.join(directory, SAVE_MARKER)):
        return CheckpointError(
            f"A save into {directory} was interrupted while it replaced the checkpoint files, so they may mix two "
            f"saves; refusing to load them. Save the model into this directory again (this removes {SAVE_MARKER})."
        )
    return None


def _fsync_directory(directory: str) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_checkpoint(model: keras.Model, save_directory: str, max_shard_size: int, layout: str,
                    extra_files: dict[str, str], tensors: list[tuple[str, LazyArray]] | None = None) -> list[str]:
    """Write the model's weights in `layout` (one of `LAYOUTS`; `tensors` from `checkpoint_tensors`, computed
    here when not given) and `extra_files` (name -> text, e.g. `config.json`) into `save_directory`; return the
    new file names.

    1. Everything is written and fsynced in a staging directory inside `save_directory`: an error there (a full
       disk, a read-only target) leaves the previous checkpoint untouched.
    2. A marker file is created, the new files are moved in, the previous save's weight files that the new save
       does not use (stale shards and indexes) are removed, and the marker is removed. A process killed during
       this step leaves the marker, and `from_pretrained` then refuses the directory instead of loading a mix of
       two saves. Files that are not part of a checkpoint (a tokenizer, a README) are never touched.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"Unknown checkpoint layout {layout!r}; expected one of {LAYOUTS}.")
    if tensors is None:
        tensors = checkpoint_tensors(model, layout)
    for name in os.listdir(save_directory):  # staging left by a save that was killed while writing
        if name.startswith(STAGING_PREFIX) and os.path.isdir(os.path.join(save_directory, name)):
            shutil.rmtree(os.path.join(save_directory, name), ignore_errors=True)
    staging = None
    try:
        try:
            staging = tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=save_directory)
            files = _write_files(model, staging, max_shard_size, layout, tensors)
            for name, text in extra_files.items():
                with open(os.path.join(staging, name), "w", encoding="utf-8") as handle:
                    handle.write(text)
                files.append(name)
            for name in files:
                with open(os.path.join(staging, name), "rb+") as handle:
                    os.fsync(handle.fileno())
            with open(os.path.join(save_directory, SAVE_MARKER), "w") as handle:
                handle.write("A tfmodels save into this directory has not finished.\n")
            _fsync_directory(save_directory)
        except OSError as err:
            raise CheckpointError(
                f"Could not write the checkpoint into {save_directory} ({err}). The previous checkpoint there, if "
                "any, is unchanged."
            ) from err
        for name in files:
            os.replace(os.path.join(staging, name), os.path.join(save_directory, name))
        for name in os.listdir(save_directory):
            if is_weight_file(name) and name not in files:
                os.remove(os.path.join(save_directory, name))
        _fsync_directory(save_directory)
        os.remove(os.path.join(save_directory, SAVE_MARKER))
        return files
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
