"""Checkpoint format details: shard sizes, safetensors validation, the restricted unpickler, name rules."""

import json
import os
import pickle
import struct
import zipfile

import numpy as np
import pytest

from tests.helpers import Case, assert_matches_reference, run
from tfmodels.checkpoints.names import modern_pt_name, strip_model_name, tf_to_pt_name
from tfmodels.checkpoints.pytorch_format import read_pytorch_bin
from tfmodels.checkpoints.safetensors_format import read_safetensors, write_safetensors
from tfmodels.checkpoints.sharding import convert_file_size_to_int, plan_shards, read_index
from tfmodels.errors import CheckpointError, UnsafeCheckpointError


def test_convert_file_size_to_int():
    assert convert_file_size_to_int(1234) == 1234
    assert convert_file_size_to_int("5GB") == 5 * 10**9
    assert convert_file_size_to_int("10GB") == 10**10
    assert convert_file_size_to_int("20KB") == 20_000
    assert convert_file_size_to_int("150kiB") == 153_600
    assert convert_file_size_to_int("1GiB") == 2**30
    assert convert_file_size_to_int("3MiB") == 3 * 2**20
    assert convert_file_size_to_int("8mb") == 1_000_000  # lowercase b: bits, as the reference
    for bad in ("1.5GB", "5XB", "GB", "", -3, 0, None):
        with pytest.raises(ValueError):
            convert_file_size_to_int(bad)


def test_plan_shards_greedy_with_oversize_weights_alone():
    sizes = [("big", 50), ("a", 6), ("b", 4), ("c", 1), ("huge", 30), ("d", 2)]
    assert plan_shards(sizes, 10) == [["big"], ["a", "b"], ["c"], ["huge"], ["d"]]
    assert plan_shards([("a", 1), ("b", 2)], 100) == [["a", "b"]]


def test_name_rules():
    assert strip_model_name("tf_bert_model/bert/embeddings/word_embeddings/weight:0") == \
        "bert/embeddings/word_embeddings/weight"
    assert strip_model_name("final_logits_bias:0") == "final_logits_bias"
    assert tf_to_pt_name("bert/encoder/layer_._0/attention/self/query/kernel", 2) == \
        ("bert.encoder.layer.0.attention.self.query.weight", "simple")
    assert tf_to_pt_name("mlm___cls/predictions/transform/LayerNorm/gamma", 1) == \
        ("cls.predictions.transform.LayerNorm.weight", "none")
    assert tf_to_pt_name("transformer/h_._0/attn/c_attn/weight", 2) == ("transformer.h.0.attn.c_attn.weight", "none")
    assert tf_to_pt_name("transformer/wte/embeddings", 2) == ("transformer.wte.weight", "none")
    assert modern_pt_name("bert.encoder.layer.1.output.LayerNorm.gamma") == \
        "bert.encoder.layer.1.output.LayerNorm.weight"
    assert modern_pt_name("cls.predictions.transform.LayerNorm.beta") == "cls.predictions.transform.LayerNorm.bias"
    assert modern_pt_name("bert.pooler.dense.weight") == "bert.pooler.dense.weight"


def _write_legacy_layout(case: Case, layout: str, directory) -> None:
    """Re-write the case's `pt_legacy_names` tensors (LayerNorm `gamma`/`beta`) as `layout`: `bin`,
    `sharded_bin` or `sharded_safetensors` (3 shards and an index, as the reference writes them)."""
    import shutil

    import torch
    from safetensors.numpy import load_file, save_file

    source = case.path("pt_legacy_names")
    shutil.copy(os.path.join(source, "config.json"), directory / "config.json")
    tensors = load_file(os.path.join(source, "model.safetensors"))
    assert any(name.endswith("LayerNorm.gamma") for name in tensors)
    names = sorted(tensors)
    shards = [names[i::3] for i in range(3)] if layout.startswith("sharded") else [names]
    suffix = "safetensors" if layout.endswith("safetensors") else "bin"
    stem = "model" if suffix == "safetensors" else "pytorch_model"
    weight_map = {}
    for i, shard in enumerate(shards, start=1):
        file_name = f"{stem}-{i:05d}-of-{len(shards):05d}.{suffix}" if len(shards) > 1 else f"{stem}.{suffix}"
        if suffix == "safetensors":
            save_file({name: tensors[name] for name in shard}, directory / file_name, metadata={"format": "pt"})
        else:
            torch.save({name: torch.from_numpy(tensors[name].copy()) for name in shard}, directory / file_name)
        weight_map.update(dict.fromkeys(shard, file_name))
    if len(shards) > 1:
        index = {"metadata": {"total_size": sum(t.nbytes for t in tensors.values())}, "weight_map": weight_map}
        (directory / f"{stem}.{suffix}.index.json").write_text(json.dumps(index))


@pytest.mark.parametrize("layout", ["bin", "sharded_bin", "sharded_safetensors"])
def test_legacy_layer_norm_names_load_in_every_pytorch_layout(layout, tmp_path):
    case = Case("bert_mlm")  # LayerNorms in the encoder and in the MLM head
    _write_legacy_layout(case, layout, tmp_path)
    model, info = case.model_class.from_pretrained(tmp_path, output_loading_info=True)
    assert info == {"missing_keys": [], "unexpected_keys": [], "mismatched_keys": []}
    assert_matches_reference(case, run(model, case))


def _lying_header(path, header):
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + b"\0" * 16)


def test_safetensors_reader_validates_the_header(tmp_path):
    good = tmp_path / "good.safetensors"
    write_safetensors(str(good), {"a": np.arange(6, dtype=np.float32).reshape(2, 3)}, {"format": "pt"})
    weights = read_safetensors(str(good))
    np.testing.assert_array_equal(weights.tensors["a"].load(), np.arange(6).reshape(2, 3))
    weights.close()
    cases = {
        "past_end": {"a": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}},
        "wrong_size": {"a": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 8]}},
        "bad_dtype": {"a": {"dtype": "F99", "shape": [1], "data_offsets": [0, 4]}},
        "negative_shape": {"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}},
    }
    for name, header in cases.items():
        path = tmp_path / f"{name}.safetensors"
        _lying_header(path, header)
        with pytest.raises(CheckpointError, match="is not a valid safetensors file"):
            read_safetensors(str(path))
    huge = tmp_path / "huge.safetensors"
    huge.write_bytes(struct.pack("<Q", 10**12) + b"{}")
    with pytest.raises(CheckpointError, match="header claims"):
        read_safetensors(str(huge))
    short = tmp_path / "short.safetensors"
    short.write_bytes(b"\x01\x02\x03")
    with pytest.raises(CheckpointError, match="too short"):
        read_safetensors(str(short))


class _Evil:
    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_restricted_unpickler_refuses_code_and_never_runs_it(tmp_path):
    marker = tmp_path / "pwned"
    evil = _Evil()
    evil.marker = marker
    path = tmp_path / "pytorch_model.bin"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("archive/data.pkl", pickle.dumps({"weight": evil}, protocol=2))
    with pytest.raises(UnsafeCheckpointError, match=r"'(posix|os)\.system'"):
        read_pytorch_bin(str(path))
    assert not marker.exists()
    legacy = tmp_path / "legacy.bin"
    legacy.write_bytes(pickle.dumps({"weight": evil}, protocol=2))
    with pytest.raises(UnsafeCheckpointError):
        read_pytorch_bin(str(legacy))
    assert not marker.exists()


@pytest.mark.parametrize("zipfile_format", [True, False])
def test_torch_written_bin_loads_identically_without_torch(zipfile_format, tmp_path):
    import torch

    state = {"w": torch.randn(4, 3), "t": torch.randn(3, 5).t(), "h": torch.randn(7).half(),
             "b": torch.randn(2, 2).bfloat16(), "i": torch.arange(4), "s": torch.tensor(2.5)}
    path = tmp_path / "pytorch_model.bin"
    torch.save(state, path, _use_new_zipfile_serialization=zipfile_format)
    weights = read_pytorch_bin(str(path))
    assert sorted(weights.tensors) == sorted(state)
    for key, value in state.items():
        np.testing.assert_array_equal(weights.tensors[key].load().astype(np.float64), value.double().numpy())


def test_index_refuses_shards_outside_the_directory(tmp_path):
    index = tmp_path / "model.safetensors.index.json"
    for shard in ("../outside.safetensors", "/etc/passwd"):
        index.write_text(json.dumps({"weight_map": {"a": shard}}))
        with pytest.raises(CheckpointError, match="outside|invalid"):
            read_index(str(index))
    (tmp_path.parent / "target.safetensors").write_bytes(b"x")
    os.symlink(tmp_path.parent / "target.safetensors", tmp_path / "link.safetensors")
    index.write_text(json.dumps({"weight_map": {"a": "link.safetensors"}}))
    with pytest.raises(CheckpointError, match="outside"):
        read_index(str(index))
    index.write_text(json.dumps({"weight_map": {"a": "missing.safetensors"}}))
    with pytest.raises(CheckpointError, match="does not exist"):
        read_index(str(index))
    index.write_text("{")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        read_index(str(index))
    index.write_text("{}")
    with pytest.raises(CheckpointError, match="weight_map"):
        read_index(str(index))


def test_truncated_h5_is_a_checkpoint_error(tmp_path):
    case = Case("bert_seqcls")
    directory = case.copy("tf_h5", tmp_path)
    path = os.path.join(directory, "tf_model.h5")
    with open(path, "r+b") as handle:
        handle.truncate(100)
    with pytest.raises(CheckpointError, match="tf_model.h5"):
        case.model_class.from_pretrained(directory)


@pytest.mark.parametrize("layout, reader", [("pt_safetensors", "safetensors"), ("tf_h5", "h5")])
def test_readers_read_rows_into_the_array_they_are_given(layout, reader):
    """`load_rows(start, stop, out=...)` fills `out`, the loader's one read buffer, with the rows it returns
    otherwise; the loader reads every slice of every weight into the same memory."""
    from tfmodels.checkpoints.h5_format import read_h5
    from tfmodels.checkpoints.loader import ReadBuffer

    case = Case("bert_seqcls")
    name = "model.safetensors" if reader == "safetensors" else "tf_model.h5"
    weights = (read_safetensors if reader == "safetensors" else read_h5)(os.path.join(case.path(layout), name))
    try:
        lazy = max(weights.tensors.values(), key=lambda t: int(np.prod(t.shape)))  # the word embeddings
        read_buffer = ReadBuffer()
        out = read_buffer.array((5, *lazy.shape[1:]), lazy.dtype)
        assert lazy.load_rows(3, 8, out=out) is out
        np.testing.assert_array_equal(out, lazy.load_rows(3, 8))
        np.testing.assert_array_equal(out, lazy.load()[3:8])
    finally:
        weights.close()
    smaller = read_buffer.array((2, 3), np.dtype(np.float16))  # a view of the same bytes, not a new array
    assert smaller.__array_interface__["data"][0] == out.__array_interface__["data"][0]
    larger = read_buffer.array((out.shape[0] + 1, *out.shape[1:]), out.dtype)  # the buffer grows
    assert larger.shape == (6, *out.shape[1:]) and read_buffer.bytes.nbytes == larger.nbytes


def test_layout_conversions_are_inverse():
    from tfmodels.checkpoints.names import pt_to_tf_array, pt_to_tf_shape, tf_to_pt_array

    rng = np.random.default_rng(0)
    for transpose, shape, tf_shape in [("simple", (5, 3), (3, 5)), ("conv1d", (4, 3, 2), (2, 3, 4)),
                                       ("conv2d", (6, 3, 2, 2), (2, 2, 3, 6)), ("none", (7,), (7,))]:
        array = rng.normal(size=shape)
        converted = pt_to_tf_array(array, transpose)
        assert converted.shape == tf_shape == pt_to_tf_shape(shape, transpose)
        np.testing.assert_array_equal(tf_to_pt_array(converted, transpose), array)
    np.testing.assert_array_equal(pt_to_tf_array(np.arange(6).reshape(2, 3), "simple"), np.arange(6).reshape(2, 3).T)


def test_safetensors_blocks_are_read_in_a_worker_ahead_of_the_writer(tmp_path, monkeypatch):
    """The writer's budget is the file's largest tensor. A tensor is loaded whole when twice its size fits in it, in
    row slices otherwise; a worker thread loads (for the PyTorch layout: reads and transposes) whole tensors ahead
    of the one being written while they and the blocks held fit in half the budget, and a slice, or a block that
    does not fit, once every block before it is released. The file holds every tensor in order, and a failing load
    fails the write."""
    import threading
    import weakref

    from tfmodels.checkpoints import safetensors_format
    from tfmodels.checkpoints.base import LazyArray

    monkeypatch.setattr(safetensors_format, "WRITE_SLICE_BYTES", 16)
    loads, alive = [], set()

    def tracked(index, array):
        loads.append((index, threading.current_thread().name, sorted(alive)))
        alive.add(index)
        weakref.finalize(array, alive.discard, index)
        return array

    def lazy(index, rows, sliceable=False):
        rows_of = (lambda start, stop: tracked(index, np.full((stop - start, 2), index, np.float32))) if sliceable else None
        return LazyArray((rows, 2), np.dtype(np.float32), lambda: tracked(index, np.full((rows, 2), index, np.float32)),
                         rows_of)

    path = str(tmp_path / "m.safetensors")
    # Rows of 8 bytes; tensor 2 (64 bytes) is the largest, so the budget is 64 bytes and it is read in 16-byte slices.
    sizes = {0: 1, 1: 1, 2: 8, 3: 4, 4: 1}
    write_safetensors(path, {f"w{i}": lazy(i, rows, sliceable=i == 2) for i, rows in sizes.items()}, {"format": "pt"})
    loaded = read_safetensors(path)
    for i, rows in sizes.items():
        np.testing.assert_array_equal(loaded.tensors[f"w{i}"].load(), np.full((rows, 2), i, np.float32))
    loaded.close()
    assert {name for _, name, _ in loads} == {"safetensors-read"}
    # Half the budget is 32 bytes: w1 may load before w0 is written (8 + 8 bytes fit); w2's four slices each once
    # nothing is held; w3 once the last slice is released (16 + 32 bytes do not fit), and w4 once w3 is (32 + 8).
    assert [index for index, _, _ in loads] == [0, 1, 2, 2, 2, 2, 3, 4]
    assert [others for _, _, others in loads[2:]] == [[]] * 6
    assert loads[1][2] in ([], [0])
    assert not alive

    def failing():
        raise OSError("disk gone")

    with pytest.raises(OSError, match="disk gone"):
        write_safetensors(str(tmp_path / "bad.safetensors"), {"a": lazy(0, 1), "b": LazyArray(
            (1,), np.dtype(np.float32), failing, None)}, {"format": "pt"})


def test_the_prefetcher_runs_ahead_within_its_budget_and_stops_when_closed():
    """Whole blocks of 10 bytes, 50 bytes ahead: the worker loads blocks 0-4 before anything is written, the sixth
    only once the first is released; closing it stops the worker with the rest unloaded."""
    import time

    from tfmodels.checkpoints.safetensors_format import Block, Prefetcher

    loads = []

    def block(index):
        return Block(10, lambda: loads.append(index) or np.full(10, index, np.uint8), True)

    def wait_for(count):
        deadline = time.monotonic() + 30
        while len(loads) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)  # time for a load the budget should not allow
        return list(loads)

    blocks = [block(i) for i in range(7)]
    prefetcher = Prefetcher(blocks, 50)
    np.testing.assert_array_equal(prefetcher.next(), np.zeros(10, np.uint8))
    assert wait_for(5) == [0, 1, 2, 3, 4]
    prefetcher.release(blocks[0])
    assert wait_for(6) == [0, 1, 2, 3, 4, 5]
    assert [int(prefetcher.next()[0]) for _ in range(2)] == [1, 2]
    prefetcher.close()
    assert not prefetcher.worker.is_alive()
    assert loads == [0, 1, 2, 3, 4, 5]  # block 6 never loaded


def test_large_safetensors_files_are_written_back_while_they_are_written(tmp_path, monkeypatch):
    """After every FLUSH_BYTES written the kernel is asked to start writing the whole file back (the save's final
    fsync then waits for the last part only); the file is written as without it. Without `posix_fadvise` (macOS,
    Windows) nothing is asked and the file is the same."""
    from tfmodels.checkpoints import safetensors_format

    advised = []

    def recording(fd, offset, length, advice):
        advised.append((os.fstat(fd).st_size, offset, length, advice))

    monkeypatch.setattr(safetensors_format, "FLUSH_BYTES", 1000)
    monkeypatch.setattr(safetensors_format.os, "posix_fadvise", recording, raising=False)
    tensors = {f"w{i}": np.full((50, 10), i, np.float32) for i in range(6)}  # 2,000 bytes each
    path = tmp_path / "m.safetensors"
    write_safetensors(str(path), tensors, {"format": "pt"})
    # One request per tensor, each after that tensor's bytes reached the file (flushed from Python first).
    header = path.stat().st_size - 6 * 2000
    assert advised == [(header + 2000 * (i + 1), 0, 0, os.POSIX_FADV_DONTNEED) for i in range(6)]
    loaded = read_safetensors(str(path))
    for name, value in tensors.items():
        np.testing.assert_array_equal(loaded.tensors[name].load(), value)
    loaded.close()
    write_safetensors(str(tmp_path / "small.safetensors"), {"w": np.ones(10, np.float32)}, {"format": "pt"})
    assert len(advised) == 6  # under FLUSH_BYTES: left to the save's own fsync
    monkeypatch.delattr(safetensors_format.os, "posix_fadvise")
    write_safetensors(str(tmp_path / "elsewhere.safetensors"), tensors, {"format": "pt"})
    assert (tmp_path / "elsewhere.safetensors").read_bytes() == path.read_bytes()
