"""PyTorch `.bin` checkpoints read without torch and without running pickled code.

A restricted unpickler rebuilds tensors as numpy arrays. Only the globals needed for that are allowed (tensor
rebuild functions, storage types, `OrderedDict`); any other global, such as `os.system` in a `__reduce__`, raises
`UnsafeCheckpointError` naming it, before anything runs. Both the zip format (torch >= 1.6) and the legacy format
are read.
"""

from __future__ import annotations

import collections
import io
import os
import pickle
import struct
import zipfile

import ml_dtypes
import numpy as np

from tfmodels.checkpoints.base import FORMAT_PT, LazyArray, WeightFile, check_weight_file
from tfmodels.errors import CheckpointError, UnsafeCheckpointError

_STORAGE_DTYPES = {
    "DoubleStorage": np.float64, "FloatStorage": np.float32, "HalfStorage": np.float16,
    "BFloat16Storage": ml_dtypes.bfloat16, "LongStorage": np.int64, "IntStorage": np.int32,
    "ShortStorage": np.int16, "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_,
}
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


class _StorageType:
    def __init__(self, dtype):
        self.dtype = np.dtype(dtype)


def _rebuild_tensor(storage, storage_offset, size, stride, *args):
    """A strided view of the storage (a flat numpy array). It stays a view because legacy files fill their
    storages only after the object pickle; `read_pytorch_bin` copies it out."""
    array = storage
    size, stride = tuple(size), tuple(stride)
    if not size:
        return array[storage_offset : storage_offset + 1].reshape(())
    if any(s < 0 for s in stride) or storage_offset < 0:
        raise UnsafeCheckpointError("A tensor in the checkpoint has a negative offset or stride.")
    needed = storage_offset + sum((n - 1) * s for n, s in zip(size, stride)) + 1 if all(size) else 0
    if needed > array.size:
        raise CheckpointError(f"A tensor of size {size} needs {needed} elements but its storage holds {array.size}.")
    view = np.lib.stride_tricks.as_strided(
        array[storage_offset:], shape=size, strides=[s * array.itemsize for s in stride], writeable=False
    )
    return view


def _rebuild_parameter(data, requires_grad=None, backward_hooks=None, *args):
    return data


_ALLOWED = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    **{("torch", name): _StorageType(dtype) for name, dtype in _STORAGE_DTYPES.items()},
}


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file, path: str, load_storage):
        super().__init__(file)
        self._path = path
        self._load_storage = load_storage

    def find_class(self, module: str, name: str):
        if (module, name) in _ALLOWED:
            return _ALLOWED[(module, name)]
        raise UnsafeCheckpointError(
            f"{self._path} asks to load the Python global '{module}.{name}', which is not needed to rebuild tensors; "
            "refusing to load it, since a pickle can run arbitrary code. Convert the checkpoint to safetensors with "
            "a trusted tool if you trust its origin."
        )

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage"):
            raise UnsafeCheckpointError(f"{self._path} holds an unsupported persistent id {pid!r:.100}.")
        _, storage_type, key, _location, numel = pid[:5]
        if not isinstance(storage_type, _StorageType):
            raise CheckpointError(f"{self._path} names an unknown storage type {storage_type!r}.")
        return self._load_storage(str(key), storage_type.dtype, int(numel))


def _read_zip(path: str) -> dict:
    archive_size = os.path.getsize(path)
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
        pickles = [n for n in names if n.endswith("/data.pkl") or n == "data.pkl"]
        if len(pickles) != 1:
            raise CheckpointError(f"{path} is a zip file but not a PyTorch checkpoint (no single data.pkl).")
        prefix = pickles[0][: -len("data.pkl")]
        storages: dict[str, np.ndarray] = {}

        def load_storage(key: str, dtype: np.dtype, numel: int) -> np.ndarray:
            if key not in storages:
                entry = f"{prefix}data/{key}"
                if entry not in names:
                    raise CheckpointError(f"{path} lacks the storage record {entry!r}; the file is damaged.")
                info = archive.getinfo(entry)
                # torch stores records uncompressed; refusing compression rules out zip bombs.
                if info.compress_type != zipfile.ZIP_STORED or info.file_size > archive_size:
                    raise CheckpointError(f"{path}: storage record {entry!r} is compressed or larger than the file.")
                raw = archive.read(entry)
                if len(raw) < numel * dtype.itemsize:
                    raise CheckpointError(f"{path}: storage {key!r} is shorter than its declared size.")
                storages[key] = np.frombuffer(raw, dtype=dtype, count=numel)
            return storages[key]

        with archive.open(pickles[0]) as handle:
            return _RestrictedUnpickler(io.BytesIO(handle.read()), path, load_storage).load()


def _read_legacy(path: str) -> dict:
    file_size = os.path.getsize(path)
    with open(path, "rb") as handle:
        def unpickle(load_storage=None):
            return _RestrictedUnpickler(handle, path, load_storage or _no_storage).load()

        def _no_storage(key, dtype, numel):
            raise CheckpointError(f"{path}: unexpected storage reference in the header.")

        magic = unpickle()
        if magic != LEGACY_MAGIC:
            raise CheckpointError(f"{path} is not a PyTorch checkpoint (unknown magic number).")
        unpickle()  # protocol version
        unpickle()  # sys info
        declared: dict[str, tuple[np.dtype, int]] = {}
        placeholders: dict[str, np.ndarray] = {}

        def load_storage(key: str, dtype: np.dtype, numel: int) -> np.ndarray:
            # Storages come after the object pickle: hand out a buffer and fill it in below.
            if key not in placeholders:
                if not 0 <= numel * dtype.itemsize <= file_size:
                    raise CheckpointError(f"{path}: storage {key!r} claims {numel} elements, more than the file holds.")
                declared[key] = (dtype, numel)
                placeholders[key] = np.zeros(numel, dtype=dtype)
            return placeholders[key]

        result = unpickle(load_storage)
        keys = unpickle()
        for key in keys:
            key = str(key)
            if key not in placeholders:
                raise CheckpointError(f"{path}: storage {key!r} is listed but never used.")
            (size,) = struct.unpack("<q", handle.read(8))
            dtype, numel = declared[key]
            raw = handle.read(size * dtype.itemsize)
            if size != numel or len(raw) != numel * dtype.itemsize:
                raise CheckpointError(f"{path}: storage {key!r} is truncated.")
            placeholders[key][:] = np.frombuffer(raw, dtype=dtype)
    return result


def read_pytorch_bin(path: str) -> WeightFile:
    """Open a `pytorch_model.bin` (or a shard) as numpy arrays, without torch."""
    check_weight_file(path)
    try:
        if zipfile.is_zipfile(path):
            state = _read_zip(path)
        else:
            state = _read_legacy(path)
    except (CheckpointError, UnsafeCheckpointError):
        raise
    except (pickle.UnpicklingError, EOFError, zipfile.BadZipFile, struct.error, ValueError, TypeError,
            AttributeError, IndexError, KeyError, MemoryError, OverflowError, RecursionError, UnicodeDecodeError) as err:
        raise CheckpointError(f"{path} is not a readable PyTorch checkpoint ({type(err).__name__}: {err}).") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise CheckpointError(f"{path} does not hold a state dict (found {type(state).__name__}).")
    tensors = {}
    for key, value in state.items():
        if isinstance(value, np.ndarray):
            tensors[str(key)] = LazyArray(value.shape, value.dtype, (lambda v=value: np.array(v, order="C")))
    return WeightFile(path=os.fspath(path), names=FORMAT_PT, tensors=tensors)
