"""Hostile and broken checkpoints get a clear error of a documented type, fast, and loading changes nothing."""

import hashlib
import json
import logging
import os
import struct
import time

import numpy as np
import pytest

import tfmodels.models.bert  # noqa: F401  (TensorFlow imported here, not inside the timed loads)
from tests.helpers import Case
from tfmodels import AutoConfig, TFAutoModel
from tfmodels.checkpoints.safetensors_format import read_safetensors, write_safetensors
from tfmodels.errors import CheckpointError, ConfigError

CASE = Case("bert_seqcls")


def snapshot(directory):
    """Names, sizes, modification times and hashes of everything in `directory`."""
    result = {}
    for root, _, files in os.walk(directory):
        for name in files:
            path = os.path.join(root, name)
            stat = os.stat(path)
            result[os.path.relpath(path, directory)] = (stat.st_size, stat.st_mtime_ns,
                                                        hashlib.sha256(open(path, "rb").read()).hexdigest())
    return result


def _truncate(path):
    size = os.path.getsize(path)
    with open(path, "r+b") as handle:
        handle.truncate(size // 2)


def _empty(path):
    open(path, "wb").close()


def _lfs_pointer(path):
    with open(path, "w") as handle:
        handle.write("version https://git-lfs.github.com/spec/v1\noid sha256:0123\nsize 123456\n")


def _lying_header(path):
    with open(path, "rb") as handle:
        (size,) = struct.unpack("<Q", handle.read(8))
        header = json.loads(handle.read(size))
    name = next(k for k in header if k != "__metadata__")
    header[name]["data_offsets"][1] += 4096
    text = json.dumps(header).encode()
    text += b" " * (size - len(text)) if len(text) <= size else b""
    with open(path, "r+b") as handle:
        handle.seek(0)
        handle.write(struct.pack("<Q", len(text)) + text)


def _index(edit):
    def apply(path):
        index = json.load(open(path))
        edit(index)
        with open(path, "w") as handle:
            json.dump(index, handle)
    return apply


def _first_shard_is(value):
    def edit(index):
        key = sorted(index["weight_map"])[0]
        index["weight_map"][key] = value
    return edit


BROKEN = {
    # name: (layout, file to break, breaker, message fragment, error type)
    "h5_truncated": ("tf_h5", "tf_model.h5", _truncate, "tf_model.h5", CheckpointError),
    "h5_empty": ("tf_h5", "tf_model.h5", _empty, "is empty", CheckpointError),
    "h5_lfs": ("tf_h5", "tf_model.h5", _lfs_pointer, "git-lfs pointer", CheckpointError),
    "tf_safetensors_truncated": ("tf_safetensors", "model.safetensors", _truncate, "truncated", CheckpointError),
    "pt_safetensors_empty": ("pt_safetensors", "model.safetensors", _empty, "is empty", CheckpointError),
    "pt_safetensors_lfs": ("pt_safetensors", "model.safetensors", _lfs_pointer, "git-lfs", CheckpointError),
    "safetensors_lying_header": ("pt_safetensors", "model.safetensors", _lying_header, "needs", CheckpointError),
    "bin_truncated": ("pt_bin", "pytorch_model.bin", _truncate, "pytorch_model.bin", CheckpointError),
    "bin_empty": ("pt_bin", "pytorch_model.bin", _empty, "is empty", CheckpointError),
    "bin_lfs": ("pt_bin", "pytorch_model.bin", _lfs_pointer, "git-lfs", CheckpointError),
    "shard_truncated": ("tf_sharded_h5", "tf_model-00002-of-00006.h5", _truncate, "tf_model-00002", CheckpointError),
    "index_not_json": ("tf_sharded_h5", "tf_model.h5.index.json", lambda p: open(p, "w").write("{x"),
                       "not valid JSON", CheckpointError),
    "index_no_weight_map": ("pt_sharded_safetensors", "model.safetensors.index.json",
                            lambda p: open(p, "w").write("{}"), "weight_map", CheckpointError),
    "index_missing_shard": ("pt_sharded_bin", "pytorch_model.bin.index.json",
                            _index(_first_shard_is("pytorch_model-00009-of-00009.bin")), "does not exist",
                            CheckpointError),
    "index_parent_dir": ("tf_sharded_h5", "tf_model.h5.index.json", _index(_first_shard_is("../tf_h5/tf_model.h5")),
                         "outside the checkpoint directory", CheckpointError),
    "index_absolute": ("tf_sharded_h5", "tf_model.h5.index.json", _index(_first_shard_is("/etc/passwd")),
                       "invalid shard", CheckpointError),
    "config_not_json": ("tf_h5", "config.json", lambda p: open(p, "w").write("not json"), "not valid JSON",
                        ConfigError),
    "config_unknown_type": ("tf_h5", "config.json", _index(lambda c: c.update(model_type="nope")),
                            "Unknown model_type 'nope'", ConfigError),
}


@pytest.fixture(scope="module")
def warm_process():
    """One good load first, so the timed loads below do not include TensorFlow's start-up in this process."""
    CASE.model_class.from_pretrained(CASE.path("tf_h5"))


@pytest.mark.parametrize("name", sorted(BROKEN))
def test_broken_checkpoint_gives_a_clear_error_fast(name, tmp_path, warm_process):
    layout, file_name, breaker, fragment, error = BROKEN[name]
    directory = CASE.copy(layout, tmp_path)
    breaker(os.path.join(directory, file_name))
    before = snapshot(tmp_path)
    start = time.perf_counter()
    with pytest.raises(error) as raised:
        TFAutoModel.from_pretrained(directory)
    assert time.perf_counter() - start < 1.0
    assert fragment in str(raised.value)
    assert isinstance(raised.value, CheckpointError) == (error is CheckpointError)
    if error is CheckpointError:
        assert file_name in str(raised.value) or "index" in file_name
    assert snapshot(tmp_path) == before


def test_symlinked_shard_leaving_the_directory_is_refused(tmp_path):
    directory = CASE.copy("tf_sharded_h5", tmp_path)
    outside = tmp_path / "elsewhere.h5"
    os.replace(os.path.join(directory, "tf_model-00001-of-00006.h5"), outside)
    os.symlink(outside, os.path.join(directory, "tf_model-00001-of-00006.h5"))
    with pytest.raises(CheckpointError, match="outside the checkpoint directory"):
        CASE.model_class.from_pretrained(directory)


def test_successful_loads_never_modify_the_directory(tmp_path):
    for layout in ("tf_h5", "tf_sharded_h5", "tf_safetensors", "pt_bin", "pt_sharded_safetensors"):
        directory = CASE.copy(layout, tmp_path)
        before = snapshot(directory)
        CASE.model_class.from_pretrained(directory)
        AutoConfig.from_pretrained(directory)
        assert snapshot(directory) == before


def test_nan_and_inf_weights_warn(tmp_path, caplog):
    directory = CASE.copy("pt_safetensors", tmp_path)
    path = os.path.join(directory, "model.safetensors")
    weights = read_safetensors(path)
    tensors = {name: np.array(lazy.load()) for name, lazy in weights.tensors.items()}
    weights.close()
    tensors["classifier.bias"][1] = np.nan
    tensors["bert.pooler.dense.bias"][0] = np.inf
    write_safetensors(path, tensors, {"format": "pt"})
    with caplog.at_level(logging.WARNING, logger="tfmodels"):
        CASE.model_class.from_pretrained(directory)
    messages = [r.getMessage() for r in caplog.records if "NaN or Inf" in r.getMessage()]
    assert len(messages) == 2
    assert any("classifier/bias" in m and "model.safetensors" in m for m in messages)


@pytest.mark.parametrize("layout", ["pt_safetensors", "tf_h5"])
def test_weights_larger_than_a_slice_are_read_and_written_in_slices(layout, tmp_path, monkeypatch, caplog):
    """A weight over `_SLICE_BYTES` is read in slices of the file's rows, copied into a new value that the variable
    takes over whole: the variable is not left in TensorFlow's copy-on-read mode (two reads share one buffer)."""
    import tensorflow as tf

    from tfmodels.checkpoints import loader

    whole = CASE.model_class.from_pretrained(CASE.path(layout))
    written, loading = {}, []
    load_into, write_slice = loader._load_into, loader._write_slice

    def load_recorded(variable, *args):
        loading.append(variable.path)
        return load_into(variable, *args)

    def record(buffer, value, axes, start):
        written.setdefault(loading[-1], []).append((tuple(value.shape), axes, start))
        return write_slice(buffer, value, axes, start)

    monkeypatch.setattr(loader, "_SLICE_BYTES", 1000)
    monkeypatch.setattr(loader, "_load_into", load_recorded)
    monkeypatch.setattr(loader, "_write_slice", record)
    sliced = CASE.model_class.from_pretrained(CASE.path(layout))
    for a, b in zip(whole.weights, sliced.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)
    kernel = next(w for w in sliced.weights if w.path.endswith("layer_._0/attention/self/query/kernel"))
    embeddings = next(w for w in sliced.weights if w.path.endswith("word_embeddings/weight"))
    # PyTorch's Linear weights are the transposed kernels: the file's rows are the kernel's columns.
    hidden = kernel.shape[0]
    rows_per_slice = 1000 // (hidden * 4)
    expected_axes = (1, 0) if layout == "pt_safetensors" else None
    assert [start for _, _, start in written[kernel.path]] == list(range(0, hidden, rows_per_slice))
    assert {axes for _, axes, _ in written[kernel.path]} == {expected_axes}
    assert [start for _, _, start in written[embeddings.path]] == list(range(0, embeddings.shape[0], rows_per_slice))
    assert all((np.prod(w.shape) * 4 > 1000) == (w.path in written) for w in sliced.weights)

    def buffers(variable):  # of two reads held at once
        reads = [np.asarray(tf.raw_ops.ReadVariableOp(resource=variable.value.handle, dtype=variable.value.dtype))
                 for _ in range(2)]
        return {read.__array_interface__["data"][0] for read in reads}

    assert [w.path for w in sliced.weights if len(buffers(w)) != 1] == []  # none is copied on every read
    if layout == "pt_safetensors":  # a NaN in one slice is reported once, for the weight
        directory = CASE.copy(layout, tmp_path)
        path = os.path.join(directory, "model.safetensors")
        weights = read_safetensors(path)
        tensors = {name: np.array(lazy.load()) for name, lazy in weights.tensors.items()}
        weights.close()
        tensors["bert.embeddings.word_embeddings.weight"][-1, 3] = np.nan
        write_safetensors(path, tensors, {"format": "pt"})
        with caplog.at_level(logging.WARNING, logger="tfmodels"):
            CASE.model_class.from_pretrained(directory)
        assert [r.getMessage() for r in caplog.records if "NaN or Inf" in r.getMessage()] == [
            "Weight 'bert/embeddings/word_embeddings/weight' ('bert.embeddings.word_embeddings.weight' in "
            f"{path}) contains NaN or Inf values."]


def test_a_variable_holds_what_it_is_assigned_unless_it_copies_on_read():
    """The sliced load writes into the memory of the tensor it assigned: TensorFlow shares an assigned tensor with
    the variable, except in copy-on-read mode (after a gather), when the loader fills the tensor and assigns it
    again."""
    import keras
    import tensorflow as tf

    from tfmodels.checkpoints import loader

    variable = keras.Variable(np.zeros((4, 3), np.float32))
    value = tf.raw_ops.Empty(shape=[4, 3], dtype=tf.float32)
    loader._assign(variable, value)
    assert loader._holds(variable, value)
    tf.gather(variable.value, [0])
    copied = tf.constant(np.ones((4, 3), np.float32))
    loader._assign(variable, copied)
    assert not loader._holds(variable, copied)
    np.testing.assert_array_equal(variable.numpy(), np.ones((4, 3), np.float32))


def test_a_variable_that_copies_what_it_is_assigned_gets_the_complete_value(monkeypatch):
    """A variable on a GPU, or in copy-on-read mode, takes a copy of the tensor it is assigned: the loader fills
    the tensor and assigns it again."""
    import tensorflow as tf

    from tfmodels.checkpoints import loader

    whole = CASE.model_class.from_pretrained(CASE.path("pt_safetensors"))
    monkeypatch.setattr(loader, "_SLICE_BYTES", 1000)
    assign = loader._assign
    monkeypatch.setattr(loader, "_assign", lambda variable, value: assign(variable, tf.identity(value) + 0))
    sliced = CASE.model_class.from_pretrained(CASE.path("pt_safetensors"))
    for a, b in zip(whole.weights, sliced.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)


def test_a_strategys_variables_load_whole_with_the_same_values(monkeypatch):
    import tensorflow as tf

    from tfmodels.checkpoints import loader

    monkeypatch.setattr(loader, "_SLICE_BYTES", 1000)  # every matrix would be sliced, but a mirrored variable
    sliced = CASE.model_class.from_pretrained(CASE.path("pt_safetensors"))  # has no handle to slice into
    with tf.distribute.MirroredStrategy(["/cpu:0"]).scope():
        mirrored = CASE.model_class.from_pretrained(CASE.path("pt_safetensors"))
    assert isinstance(mirrored.weights[0].value, tf.distribute.DistributedValues)
    for a, b in zip(sliced.weights, mirrored.weights):
        np.testing.assert_array_equal(a.numpy(), b.numpy(), err_msg=a.path)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_half_precision_checkpoints_load_into_float32(dtype, tmp_path):
    import ml_dtypes

    directory = CASE.copy("pt_safetensors", tmp_path)
    path = os.path.join(directory, "model.safetensors")
    weights = read_safetensors(path)
    target = np.float16 if dtype == "float16" else ml_dtypes.bfloat16
    tensors = {name: np.array(lazy.load()).astype(target) for name, lazy in weights.tensors.items()}
    weights.close()
    write_safetensors(path, tensors, {"format": "pt"})
    model = CASE.model_class.from_pretrained(directory)
    assert {w.dtype for w in model.weights} == {"float32"}
    np.testing.assert_array_equal(model.classifier.bias.numpy(), tensors["classifier.bias"].astype(np.float32))
    np.testing.assert_allclose(model(CASE.inputs).logits, CASE.reference["logits"], atol=2e-2)
    half = CASE.model_class.from_pretrained(directory, dtype="float16")
    assert {w.dtype for w in half.weights} == {"float16"}
    assert half.config.dtype == "float32"  # the config's own field is untouched
    np.testing.assert_array_equal(half.classifier.bias.numpy(), tensors["classifier.bias"].astype(np.float16))
    assert half.bert(**CASE.inputs).last_hidden_state.dtype == "float16"
    assert half(CASE.inputs).logits.dtype == "float32"  # logits are always float32


def test_fresh_base_weights_get_one_clear_warning_apart_from_fresh_heads(tmp_path, caplog):
    directory = CASE.copy("pt_safetensors", tmp_path)
    path = os.path.join(directory, "model.safetensors")
    weights = read_safetensors(path)
    tensors = {name: np.array(lazy.load()) for name, lazy in weights.tensors.items()
               if "LayerNorm" not in name and not name.startswith("classifier.")}
    weights.close()
    write_safetensors(path, tensors, {"format": "pt"})
    with caplog.at_level(logging.WARNING, logger="tfmodels"):
        model, info = CASE.model_class.from_pretrained(directory, output_loading_info=True)
    layer_norms = [k for k in info["missing_keys"] if "LayerNorm" in k]
    assert len(layer_norms) == 10 and info["missing_keys"] == layer_norms + ["classifier/kernel", "classifier/bias"]
    base = [r.getMessage() for r in caplog.records if "almost always a bug" in r.getMessage()]
    assert len(base) == 1
    assert base[0].startswith("10 weight(s) of the base model of TFBertForSequenceClassification")
    assert f": {layer_norms[:5]} and 5 more. " in base[0]
    assert "classifier" not in base[0]
    heads = [r.getMessage() for r in caplog.records if "task head of" in r.getMessage()]
    assert len(heads) == 1 and "['classifier/kernel', 'classifier/bias']" in heads[0] and "LayerNorm" not in heads[0]

    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="tfmodels"):
        CASE.model_class.from_pretrained(Case("bert_base").path("pt_safetensors"))
    assert not [r for r in caplog.records if "almost always a bug" in r.getMessage()]
    assert len([r for r in caplog.records if "task head of" in r.getMessage()]) == 1
