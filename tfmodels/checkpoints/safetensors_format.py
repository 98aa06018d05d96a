"""safetensors: a validating, memory-mapped reader that needs neither torch nor TF, and the TF-name writer."""

from __future__ import annotations

import functools
import json
import os
import queue
import struct
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import NamedTuple

import ml_dtypes
import numpy as np

from tfmodels.checkpoints.base import FORMAT_PT, FORMAT_TF, LazyArray, WeightFile, check_weight_file
from tfmodels.errors import CheckpointError

DTYPES = {
    "F64": np.dtype(np.float64), "F32": np.dtype(np.float32), "F16": np.dtype(np.float16),
    "BF16": np.dtype(ml_dtypes.bfloat16), "I64": np.dtype(np.int64), "I32": np.dtype(np.int32),
    "I16": np.dtype(np.int16), "I8": np.dtype(np.int8), "U8": np.dtype(np.uint8), "BOOL": np.dtype(np.bool_),
}
_CODES = {dtype: code for code, dtype in DTYPES.items()}
MAX_HEADER_SIZE = 100 * 1024 * 1024
WRITE_SLICE_BYTES = 4 * 2 ** 20  # the slices of a tensor too large to load whole (see write_safetensors)
FLUSH_BYTES = 128 * 2 ** 20  # the kernel is asked to start writing a file to disk after every this many bytes


class EarlyWriteback:
    """Have the kernel write a file to disk while it is still being written: after every `FLUSH_BYTES`, the file is
    passed to `posix_fadvise(POSIX_FADV_DONTNEED)`, which on Linux starts the writeback of its dirty pages without
    waiting for it, and drops from the page cache the pages already on disk. A save syncs its files before they
    replace the previous checkpoint; that final `fsync` then waits for the last part only (without any early
    writeback, the whole file went to disk at that point: 4.6 of 15 s for 1.1B parameters in bf16). A thread running
    `fdatasync` did this before, but writes to the file stalled while it ran: the 1.1B Llama's save took 4.7-5.0 s
    with it, 2.0-2.6 s with this (3.2-3.8 s when only the newly written range was passed, keeping the pages on disk
    cached). Where `posix_fadvise` does not exist (macOS, Windows) this does nothing, and the final `fsync` writes
    everything.

    Example:
        >>> with open("model.safetensors", "wb") as handle:
        ...     writeback = EarlyWriteback(handle)
        ...     handle.write(data); writeback.wrote(len(data))
    """

    def __init__(self, handle):
        self.handle = handle
        self.pending = 0

    def wrote(self, nbytes: int) -> None:
        self.pending += nbytes
        if self.pending >= FLUSH_BYTES and hasattr(os, "posix_fadvise"):
            self.handle.flush()  # Python's buffer into the file first
            self.pending = 0
            try:
                os.posix_fadvise(self.handle.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)  # 0, 0: the whole file
            except OSError:  # only a hint: the save's own fsync reports what fails
                pass


def _fail(path: str, problem: str) -> CheckpointError:
    return CheckpointError(f"{path} is not a valid safetensors file: {problem}")


def read_header(path: str) -> tuple[dict, dict, int]:
    """Return `(tensor entries, metadata, data start offset)` of a safetensors file, validated."""
    size = os.path.getsize(path)
    with open(path, "rb") as handle:
        head = handle.read(8)
        if len(head) < 8:
            raise _fail(path, f"it is {size} bytes long, too short for a header.")
        (header_size,) = struct.unpack("<Q", head)
        if header_size > min(size - 8, MAX_HEADER_SIZE):
            raise _fail(path, f"the header claims {header_size} bytes but the file holds {size} bytes in all.")
        try:
            header = json.loads(handle.read(header_size))
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise _fail(path, f"the header is not JSON ({err}).") from None
    if not isinstance(header, dict):
        raise _fail(path, "the header is not a JSON object.")
    metadata = header.pop("__metadata__", None) or {}
    data_start = 8 + header_size
    data_size = size - data_start
    for name, entry in header.items():
        if not isinstance(entry, dict) or entry.get("dtype") not in DTYPES:
            raise _fail(path, f"tensor {name!r} has an unsupported or missing dtype ({entry!r:.80}).")
        shape, offsets = entry.get("shape"), entry.get("data_offsets")
        if not (isinstance(shape, list) and all(isinstance(d, int) and d >= 0 for d in shape)):
            raise _fail(path, f"tensor {name!r} has an invalid shape {shape!r}.")
        if not (isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(o, int) for o in offsets)):
            raise _fail(path, f"tensor {name!r} has invalid data_offsets {offsets!r}.")
        begin, end = offsets
        expected = int(np.prod(shape, dtype=np.int64)) * DTYPES[entry["dtype"]].itemsize
        if not 0 <= begin <= end <= data_size or end - begin != expected:
            raise _fail(
                path,
                f"tensor {name!r} ({entry['dtype']} {shape}) claims bytes {begin}..{end} of a {data_size}-byte data "
                f"section; it needs {expected} bytes inside it. The file is truncated or its header is wrong.",
            )
    return header, metadata, data_start


def read_safetensors(path: str) -> WeightFile:
    """Open a safetensors file (TF or PyTorch names, told apart by its `format` metadata)."""
    check_weight_file(path)
    header, metadata, data_start = read_header(path)
    fmt = metadata.get("format")
    if fmt not in (FORMAT_TF, FORMAT_PT):  # no or foreign metadata: tell the conventions apart by the names
        fmt = FORMAT_TF if any("/" in name for name in header) else FORMAT_PT
    handle = open(path, "rb")

    def lazy(entry: dict) -> LazyArray:
        dtype, shape = DTYPES[entry["dtype"]], tuple(entry["shape"])
        begin = entry["data_offsets"][0]
        row_bytes = int(np.prod(shape[1:], dtype=np.int64)) * dtype.itemsize

        def load_rows(start: int, stop: int, out: np.ndarray | None = None) -> np.ndarray:
            # Plain reads rather than a memory map: mapped pages would stay resident (and count as RSS) until
            # the whole file is done, while a read buffer is freed as soon as the weight is assigned.
            array = np.empty((stop - start, *shape[1:]), dtype) if out is None else out
            handle.seek(data_start + begin + start * row_bytes)
            if handle.readinto(memoryview(array.reshape(-1).view(np.uint8))) != array.nbytes:
                raise _fail(path, "the file ended before the tensor data did; it was truncated while open.")
            return array

        def load() -> np.ndarray:
            if not shape:
                return load_rows(0, 1).reshape(())
            return load_rows(0, shape[0])

        return LazyArray(shape, dtype, load, load_rows if shape else None)

    tensors = {}
    for name, entry in header.items():
        key = name[:-2] if fmt == FORMAT_TF and name.endswith(":0") else name
        tensors[key] = lazy(entry)

    return WeightFile(path=path, names=fmt, tensors=tensors, close=handle.close)


def write_safetensors(path: str, tensors: Mapping[str, np.ndarray | LazyArray], metadata: dict[str, str]) -> None:
    """Write `tensors` to `path` in the safetensors format, streamed: the header needs only shapes and dtypes, and
    a `LazyArray` is loaded when its bytes are written and released right after. Writing a model's variables so
    holds about the largest tensor's bytes at most: a tensor that reads rows and is over `WRITE_SLICE_BYTES` is
    loaded in row slices of that size unless twice its size (its value and a read copy TensorFlow may make) fits
    in that budget, every other one whole, and whole tensors are loaded ahead of the one being written within half
    of it (see `Prefetcher`).

    Example:
        >>> write_safetensors("model.safetensors", {"w": np.ones((2, 3), np.float32)}, {"format": "pt"})
    """
    header: dict = {"__metadata__": metadata}
    offset = budget = 0
    for name, tensor in tensors.items():
        dtype = np.dtype(tensor.dtype)
        if dtype not in _CODES:
            raise CheckpointError(f"Cannot write {name!r} of dtype {dtype} to safetensors; supported dtypes: "
                                  f"{sorted(str(d) for d in _CODES)}.")
        nbytes = int(np.prod(tensor.shape, dtype=np.int64)) * dtype.itemsize
        header[name] = {"dtype": _CODES[dtype], "shape": list(tensor.shape), "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
        budget = max(budget, nbytes)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)  # align the data section to 8 bytes, as the reference library does
    blocks = [block for name, tensor in tensors.items() for block in _blocks(tensor, name, path, budget)]
    with open(path, "wb") as handle:
        writeback = EarlyWriteback(handle)
        handle.write(struct.pack("<Q", len(text)))
        handle.write(text)
        for array in _prefetched(blocks, budget // 2):
            data = np.ascontiguousarray(array).reshape(-1).view(np.uint8)
            handle.write(data)
            writeback.wrote(data.nbytes)
            del array, data  # dropped before its bytes are released to the loading thread


def _prefetched(blocks: list[Block], ahead: int) -> Iterator[np.ndarray]:
    """The arrays of `blocks`, in order, loaded (for the PyTorch layout: read and transposed) by a worker thread
    that runs up to `ahead` bytes ahead of the writer (see `Prefetcher`)."""
    prefetcher = Prefetcher(blocks, ahead)
    try:
        for block in blocks:
            array = prefetcher.next()
            yield array
            del array
            prefetcher.release(block)
    finally:
        prefetcher.close()


class Prefetcher:
    """Load blocks in order in a worker thread ("safetensors-read"), ahead of the thread that writes them: the next
    whole tensor is loaded while it and the blocks loaded and not yet written fit in `ahead` bytes; a slice of a
    tensor too large to load whole, or any block when nothing is held, once every block before it is released.

    `write_safetensors` runs ahead by half its budget, the largest tensor: a tensor that could be sliced is loaded whole
    only within the other half (see `_blocks`), so even the read copy TensorFlow makes of a variable in copy-on-read
    mode keeps the total within the budget, and usually the other half is left to the allocators, whose pools grow past
    what is held (with the whole budget ahead, BERT-base's first save added 0.097-0.103 GiB against its 0.087 GiB
    largest tensor). Loading one block ahead only, a file of alternating kernels and biases (BERT) was read and written
    in turn: the writer waited 0.10 of a 0.33 s save. TensorFlow's ops and the file writes both release the GIL.

    Example:
        >>> prefetcher = Prefetcher(blocks, ahead)
        >>> array = prefetcher.next()  # blocks[0]'s array; write it, drop it, then
        >>> prefetcher.release(blocks[0]); prefetcher.close()
    """

    def __init__(self, blocks: list[Block], ahead: int):
        self.ahead = ahead
        self.held = 0  # bytes of the blocks loaded or being loaded and not released
        self.closed = False
        self.room = threading.Condition()
        self.loaded: queue.SimpleQueue = queue.SimpleQueue()
        self.worker = threading.Thread(target=self._load, args=(blocks,), name="safetensors-read", daemon=True)
        self.worker.start()

    def _fits(self, block: Block) -> bool:
        return self.closed or self.held == 0 or (block.whole and self.held + block.nbytes <= self.ahead)

    def _load(self, blocks: list[Block]) -> None:
        for block in blocks:
            with self.room:
                self.room.wait_for(lambda: self._fits(block))
                if self.closed:
                    return
                self.held += block.nbytes
            try:
                array = block.load()
            except BaseException as err:  # raised in the writing thread, in the block's place
                self.loaded.put(err)
                return
            self.loaded.put(array)
            del array

    def next(self) -> np.ndarray:
        """The next block's array; raises what loading it raised."""
        item = self.loaded.get()
        if isinstance(item, BaseException):
            raise item
        return item

    def release(self, block: Block) -> None:
        """`block` is written and its array dropped: its bytes make room for the blocks after it."""
        with self.room:
            self.held -= block.nbytes
            self.room.notify()

    def close(self) -> None:
        """Stop loading (a failed write leaves the rest unloaded) and wait for the worker."""
        with self.room:
            self.closed = True
            self.room.notify()
        self.worker.join()


class Block(NamedTuple):
    """Part of a tensor's data in the file: its size, how to load it, and whether it is the whole tensor."""

    nbytes: int
    load: Callable[[], np.ndarray]
    whole: bool


def _blocks(tensor: np.ndarray | LazyArray, name: str, path: str, budget: int) -> list[Block]:
    """The tensor's data in order: whole, or for a `LazyArray` that reads rows and is too large to load whole
    within `budget` (see `write_safetensors`), in row slices of about `WRITE_SLICE_BYTES`; each load checks its
    array against the declared dtype and shape."""
    shape, dtype = tuple(tensor.shape), np.dtype(tensor.dtype)
    row_bytes = int(np.prod(shape[1:], dtype=np.int64)) * dtype.itemsize
    whole = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    spans = [None]  # whole
    if (isinstance(tensor, LazyArray) and tensor.load_rows is not None and whole > WRITE_SLICE_BYTES
            and 2 * whole > budget):
        step = max(1, WRITE_SLICE_BYTES // max(row_bytes, 1))
        spans = [(start, min(start + step, shape[0])) for start in range(0, shape[0], step)]

    def load(span) -> np.ndarray:
        if span is None:
            array = tensor.load() if isinstance(tensor, LazyArray) else tensor
            expected = shape
        else:
            array = tensor.load_rows(*span)
            expected = (span[1] - span[0], *shape[1:])
        if tuple(np.shape(array)) != expected or np.dtype(array.dtype) != dtype:
            raise CheckpointError(
                f"Tensor {name!r} was declared {dtype} {expected} but its value is {array.dtype} "
                f"{tuple(np.shape(array))}; {path} was not completed."
            )
        return array

    return [Block(whole, functools.partial(load, None), True) if span is None
            else Block((span[1] - span[0]) * row_bytes, functools.partial(load, span), False) for span in spans]
