"""Fuzzing: mutated checkpoints of every format either load or raise a documented error, quickly."""

import os
import shutil
import tempfile
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tfmodels.models.bert  # noqa: F401  (TensorFlow imported before the timed loads)
from tests.helpers import Case
from tfmodels.errors import CheckpointError, ConfigError

pytestmark = pytest.mark.slow
CASE = Case("bert_seqcls")
TARGETS = {
    "tf_h5": "tf_model.h5",
    "tf_safetensors": "model.safetensors",
    "pt_safetensors": "model.safetensors",
    "pt_bin": "pytorch_model.bin",
    "tf_sharded_h5": "tf_model.h5.index.json",
    "pt_sharded_bin": "pytorch_model-00001-of-00006.bin",
}
DOCUMENTED = (CheckpointError, ConfigError, ValueError)  # ValueError: a weight of the wrong shape

mutation = st.one_of(
    st.tuples(st.just("flip"), st.floats(0, 1), st.integers(1, 255)),
    st.tuples(st.just("truncate"), st.floats(0, 1), st.just(0)),
    st.tuples(st.just("insert"), st.floats(0, 1), st.integers(0, 255)),
    st.tuples(st.just("zero_run"), st.floats(0, 1), st.integers(1, 64)),
)


def _mutate(data: bytes, mutations) -> bytes:
    data = bytearray(data)
    for kind, where, value in mutations:
        position = min(int(where * len(data)), max(len(data) - 1, 0))
        if kind == "flip" and data:
            data[position] ^= value
        elif kind == "truncate":
            del data[position:]
        elif kind == "insert":
            data[position:position] = bytes([value])
        elif kind == "zero_run":
            data[position:position + value] = bytes(len(data[position:position + value]))
    return bytes(data)


@pytest.mark.parametrize("layout", sorted(TARGETS))
def test_mutated_checkpoints_load_or_raise_documented_errors(layout):
    source = CASE.path(layout)
    original = open(os.path.join(source, TARGETS[layout]), "rb").read()
    workdir = tempfile.mkdtemp()
    outcomes = {"loaded": 0, "refused": 0}

    @settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(st.lists(mutation, min_size=1, max_size=4))
    def check(mutations):
        directory = os.path.join(workdir, "ckpt")
        shutil.rmtree(directory, ignore_errors=True)
        shutil.copytree(source, directory)
        with open(os.path.join(directory, TARGETS[layout]), "wb") as handle:
            handle.write(_mutate(original, mutations))
        start = time.perf_counter()
        try:
            model = CASE.model_class.from_pretrained(directory)
        except DOCUMENTED:
            outcomes["refused"] += 1
        else:
            assert model(CASE.inputs).logits.shape == (3, 3)
            outcomes["loaded"] += 1
        assert time.perf_counter() - start < 10, "a mutated checkpoint took too long to load or refuse"

    try:
        check()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    assert outcomes["refused"] > 0, outcomes  # the mutations do reach the error paths
