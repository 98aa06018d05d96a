"""A fuzzer over the public entry points: hostile and careless values for a model's call, `generate`,
`from_pretrained` (hostile `config.json`), `save_pretrained`, `export_saved_model`, `load_adapter`,
`prepare_tf_dataset` and the command line. Every input either works or raises one of the library's documented
exceptions (or the built-in one a Python user expects) whose message names the problem; nothing is written or
overwritten on failure; nothing hangs. Property-based (hypothesis, derandomized) where values vary freely,
table-driven where the cases are known. The README reports how many inputs each part tries."""

import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter

import numpy as np
import pytest
import tensorflow as tf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tfmodels
from serving import export_saved_model
from serving.export import ExportError
from tfmodels.errors import CheckpointError, ConfigError

pytestmark = pytest.mark.slow
DOCUMENTED = (ConfigError, CheckpointError, ExportError, ValueError, TypeError, FileExistsError, FileNotFoundError,
              NotADirectoryError)
FUZZ = settings(deadline=None, derandomize=True, suppress_health_check=list(HealthCheck), database=None)
GPT2 = tfmodels.GPT2Config(vocab_size=50, n_embd=16, n_layer=1, n_head=2, n_positions=24, pad_token_id=0)
BERT = tfmodels.BertConfig(vocab_size=60, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                           intermediate_size=32, max_position_embeddings=24)
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def refused_clearly(error: BaseException) -> bool:
    """A documented type with a message that says something (not a bare repr of one value)."""
    return isinstance(error, DOCUMENTED) and len(str(error)) >= 25


def tree_state(directory) -> dict:
    """Every file under `directory` with its size and modification time (what a failure must leave alone)."""
    state = {}
    for base, _, files in os.walk(directory):
        for name in files:
            path = os.path.join(base, name)
            state[path] = (os.path.getsize(path), os.stat(path).st_mtime_ns)
    return state


@pytest.fixture(scope="module")
def gpt2():
    return tfmodels.TFGPT2LMHeadModel(GPT2)


@pytest.fixture(scope="module")
def bert():
    return tfmodels.TFBertForSequenceClassification(BERT)


# ---- the model's call -------------------------------------------------------------------------------------------
dtypes = st.sampled_from([np.int32, np.int64, np.float32, np.float16, np.bool_, np.uint8, np.int8])
shapes = st.lists(st.integers(0, 30), min_size=0, max_size=4)


@st.composite
def call_inputs(draw):
    shape = draw(shapes)
    ids = np.asarray(draw(st.integers(-3, 70)) + np.arange(int(np.prod(shape))) % 7).reshape(shape)
    inputs = {"input_ids": ids.astype(draw(dtypes))}
    if draw(st.booleans()):
        mask_shape = shape if draw(st.booleans()) else draw(shapes)
        inputs["attention_mask"] = np.ones(mask_shape, draw(dtypes))
    if draw(st.booleans()):
        inputs["token_type_ids"] = np.full(shape, draw(st.integers(-1, 3)), np.int32)
    return inputs


def test_model_calls_answer_or_refuse_clearly(bert):
    outcomes = Counter()

    @settings(FUZZ, max_examples=150)
    @given(call_inputs())
    def check(inputs):
        start = time.perf_counter()
        try:
            out = bert(inputs)
        except Exception as error:  # noqa: BLE001 - the property is about which exceptions come out
            assert refused_clearly(error), f"{type(error).__name__}: {error}"
            outcomes["refused"] += 1
        else:
            assert out.logits.shape == (inputs["input_ids"].shape[0], 2)
            assert np.isfinite(out.logits.numpy()).all()
            outcomes["answered"] += 1
        assert time.perf_counter() - start < 20

    check()
    assert outcomes["refused"] > 50 and outcomes["answered"] > 5, outcomes


# ---- generate ---------------------------------------------------------------------------------------------------
generation_arguments = st.fixed_dictionaries({}, optional={
    "max_new_tokens": st.integers(-3, 12),
    "max_length": st.integers(-2, 40),
    "min_new_tokens": st.integers(-2, 12),
    "num_beams": st.integers(-1, 3),
    "do_sample": st.booleans(),
    "temperature": st.sampled_from([-1.0, 0.0, 0.7, 1.0, float("nan"), float("inf")]),
    "top_k": st.integers(-2, 60),
    "top_p": st.sampled_from([-0.5, 0.0, 0.5, 1.0, 1.5, float("nan")]),
    "repetition_penalty": st.sampled_from([-1.0, 0.0, 1.0, 1.3]),
    "num_return_sequences": st.integers(-1, 3),
    "no_repeat_ngram_size": st.integers(-1, 3),
    "eos_token_id": st.sampled_from([None, 2, -1, 99, [2, 3]]),
    "pad_to_multiple_of": st.sampled_from([None, 0, -4, 8]),
})


def test_generate_answers_or_refuses_clearly(gpt2):
    outcomes = Counter()

    @settings(FUZZ, max_examples=120)
    @given(generation_arguments, st.lists(st.integers(0, 30), min_size=2, max_size=2),
           st.integers(-2, 55), st.booleans())
    def check(arguments, shape, token, compiled):
        ids = np.full(shape, token, np.int32)
        start = time.perf_counter()
        try:
            out = gpt2.generate(ids, seed=0, jit_compile=compiled, **arguments)
        except Exception as error:  # noqa: BLE001
            assert refused_clearly(error), f"{arguments} {shape} {token}: {type(error).__name__}: {error}"
            outcomes["refused"] += 1
        else:
            out = np.asarray(out)
            assert out.shape[0] >= shape[0] and out.shape[1] > shape[1]
            assert ((0 <= out) & (out < 50)).all()
            outcomes["answered"] += 1
        assert time.perf_counter() - start < 60

    check()
    assert outcomes["refused"] > 20 and outcomes["answered"] > 10, outcomes


# ---- from_pretrained on a hostile config.json ------------------------------------------------------------------
hostile_values = st.one_of(
    st.sampled_from(["abc", "", None, True, [], {}, [1, 2], {"a": 1}, 1.5, -1, 0, float("nan")]),
    st.integers(-10, 100),
    st.sampled_from([10**6, 10**9, 10**12, 10**13]),  # absurd sizes (a genuine 1,000-layer model builds for minutes)
)
config_fields = st.sampled_from(["vocab_size", "n_embd", "n_layer", "n_head", "n_positions", "n_inner",
                                 "layer_norm_epsilon", "resid_pdrop", "initializer_range", "activation_function",
                                 "scale_attn_weights", "summary_type", "pad_token_id", "eos_token_id", "model_type",
                                 "n_ctx", "architectures", "rope_scaling", "pruned_heads", "id2label"])


def test_hostile_config_json_loads_or_refuses_clearly(gpt2, tmp_path_factory):
    source = tmp_path_factory.mktemp("source")
    gpt2.save_pretrained(source, safe_serialization=True)
    original = json.loads((source / "config.json").read_text())
    outcomes = Counter()

    @settings(FUZZ, max_examples=100)
    @given(st.dictionaries(config_fields, hostile_values, min_size=1, max_size=3))
    def check(changes):
        directory = tmp_path_factory.mktemp("hostile")
        shutil.copy(source / "model.safetensors", directory)
        (directory / "config.json").write_text(json.dumps({**original, **changes}))
        start = time.perf_counter()
        try:
            tfmodels.TFAutoModelForCausalLM.from_pretrained(directory)
        except Exception as error:  # noqa: BLE001
            assert refused_clearly(error), f"{changes}: {type(error).__name__}: {error}"
            outcomes["refused"] += 1
        else:
            outcomes["loaded"] += 1
        assert time.perf_counter() - start < 30, changes
        shutil.rmtree(directory)

    check()
    assert outcomes["refused"] > 30, outcomes


@pytest.mark.parametrize("field, value, message", [
    ("n_embd", "abc", r"GPT2Config\.n_embd must be a positive integer; received 'abc' \(str\)"),
    ("vocab_size", 10**12, r"about [\d,.]+ GiB of weights.*more than this machine's.*allow_large_model=True"),
    ("n_head", 0, r"GPT2Config\.n_head must be a positive integer; received 0"),
    ("resid_pdrop", 1.5, r"GPT2Config\.resid_pdrop is a probability: a number from 0 to 1; received 1\.5"),
    ("layer_norm_epsilon", -1e-5, r"GPT2Config\.layer_norm_epsilon must be a positive number"),
    ("n_layer", True, r"GPT2Config\.n_layer must be a positive integer; received True \(bool\)"),
])
def test_absurd_or_mistyped_config_fields_are_refused_before_allocation(field, value, message):
    config = tfmodels.GPT2Config(**{**GPT2.to_dict(), field: value})
    start = time.perf_counter()
    with pytest.raises(ConfigError, match=message):
        tfmodels.TFGPT2LMHeadModel(config)
    assert time.perf_counter() - start < 2  # refused before any variable exists


def test_a_genuinely_large_model_can_be_allowed():
    config = tfmodels.GPT2Config(**{**GPT2.to_dict(), "vocab_size": 10**12})
    from tfmodels import config_checks

    assert config_checks.estimated_parameters(config) > 10**13
    config_checks.check_config(config, allow_large_model=True)  # the size check is skipped; fields still checked
    with pytest.raises(ConfigError, match="n_head must be a positive integer"):
        config_checks.check_config(tfmodels.GPT2Config(n_head=-2), allow_large_model=True)


# ---- save_pretrained, export_saved_model: nothing written on failure -------------------------------------------
@pytest.mark.parametrize("arguments, error, message", [
    ({"max_shard_size": "abc"}, ValueError, r"max_shard_size"),
    ({"max_shard_size": -5}, ValueError, r"max_shard_size"),
    ({"weight_names": "torch"}, ValueError, r"weight_names"),
    ({"safe_serialization": False, "weight_names": "pt"}, ValueError, r"weight_names='pt'.*safetensors"),
    ({"version": -1, "saved_model": True}, ValueError, r"version"),
])
def test_save_pretrained_refuses_bad_arguments_and_writes_nothing(gpt2, tmp_path, arguments, error, message):
    target = tmp_path / "out"
    with pytest.raises(error, match=message):
        gpt2.save_pretrained(target, **arguments)
    assert not target.exists()


def test_save_pretrained_into_a_file_and_over_a_save_keeps_what_was_there(gpt2, tmp_path):
    a_file = tmp_path / "file"
    a_file.write_text("keep me")
    with pytest.raises(DOCUMENTED, match=r"is a file|not a directory|expects a directory"):
        gpt2.save_pretrained(a_file)
    assert a_file.read_text() == "keep me"
    saved = tmp_path / "saved"
    gpt2.save_pretrained(saved, safe_serialization=True)
    before = tree_state(saved)
    with pytest.raises(ValueError):
        gpt2.save_pretrained(saved, max_shard_size="zero")
    assert tree_state(saved) == before


@pytest.mark.parametrize("arguments, error, message", [
    ({"version": -1}, ValueError, r"version must be a non-negative integer; received -1"),
    ({"version": "one"}, ValueError, r"version must be a non-negative integer; received 'one'"),
    ({"generation_kwargs": {"max_new_tokens": 3}}, ValueError, r"generation_kwargs are only used with generate=True"),
    ({"generate": True, "generation_kwargs": {"num_return_sequences": 2, "num_beams": 2}}, DOCUMENTED,
     r"num_return_sequences"),
])
def test_export_refuses_bad_arguments_and_leaves_nothing(gpt2, tmp_path, arguments, error, message):
    base = tmp_path / "exports"
    base.mkdir()
    with pytest.raises(error, match=message):
        export_saved_model(gpt2, base, verify=False, **arguments)
    assert os.listdir(base) == []


def test_export_never_overwrites_a_version(gpt2, tmp_path):
    base = tmp_path / "exports"
    path = export_saved_model(gpt2, base, verify=False)
    before = tree_state(path)
    with pytest.raises(FileExistsError, match="already exists; exports are never overwritten"):
        export_saved_model(gpt2, base, version=int(os.path.basename(path)), verify=False)
    assert tree_state(path) == before and sorted(os.listdir(base)) == [os.path.basename(path)]


# ---- load_adapter: a hostile adapter leaves the model as it was ------------------------------------------------
adapter_changes = st.dictionaries(
    st.sampled_from(["r", "lora_alpha", "target_modules", "lora_dropout", "bias", "use_dora", "use_rslora",
                     "modules_to_save", "peft_type", "fan_in_fan_out", "rank_pattern"]),
    st.one_of(st.sampled_from([0, -1, "abc", None, [], ["nonexistent"], ["query"], True, 2.5, {"x": 1}, 10**9]),
              st.integers(-3, 64)),
    min_size=1, max_size=3)


def test_hostile_adapters_load_or_refuse_and_leave_the_model_unchanged(tmp_path_factory):
    adapter_source = tmp_path_factory.mktemp("adapter")
    trained = tfmodels.TFBertForSequenceClassification(BERT)
    trained.enable_lora(rank=2, target_modules=["query", "value"])
    trained.save_pretrained(adapter_source, adapter_only=True)
    original = json.loads((adapter_source / "adapter_config.json").read_text())
    outcomes = Counter()

    @settings(FUZZ, max_examples=60)
    @given(adapter_changes, st.sampled_from([None, 0.0, 0.5, 0.99]))
    def check(changes, truncate):
        directory = tmp_path_factory.mktemp("hostile_adapter")
        shutil.copy(adapter_source / "adapter_model.safetensors", directory)
        if truncate is not None:
            data = (directory / "adapter_model.safetensors").read_bytes()
            (directory / "adapter_model.safetensors").write_bytes(data[:int(len(data) * truncate)])
        (directory / "adapter_config.json").write_text(json.dumps({**original, **changes}))
        model = tfmodels.TFBertForSequenceClassification(BERT)
        before = [weight.numpy().copy() for weight in model.weights]
        try:
            model.load_adapter(directory)
        except Exception as error:  # noqa: BLE001
            assert refused_clearly(error), f"{changes} {truncate}: {type(error).__name__}: {error}"
            after = model.weights
            assert len(after) == len(before) and all(np.array_equal(a, b.numpy()) for a, b in zip(before, after))
            outcomes["refused"] += 1
        else:
            outcomes["loaded"] += 1
        shutil.rmtree(directory)

    check()
    assert outcomes["refused"] > 20, outcomes


# ---- prepare_tf_dataset -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("dataset, arguments, message", [
    ("not a dataset", {}, r"dataset"),
    ({"input_ids": [[1, 2]]}, {}, r"dataset"),
    (None, {}, r"dataset"),
    ("rows", {"batch_size": 0}, r"batch_size"),
    ("rows", {"batch_size": -2}, r"batch_size"),
    ("rows", {"batch_size": "8"}, r"batch_size"),
    ("rows", {"pad_to_multiple_of": 0}, r"pad_to_multiple_of"),
])
def test_prepare_tf_dataset_refuses_clearly(bert, dataset, arguments, message):
    import datasets
    if dataset == "rows":
        dataset = datasets.Dataset.from_dict({"input_ids": [[1, 2, 3], [4, 5]], "label": [0, 1]})
    with pytest.raises(DOCUMENTED, match=message):
        bert.prepare_tf_dataset(dataset, **arguments)


# ---- the command line -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("arguments, message", [
    (["inspect", "/nonexistent/dir"], r"/nonexistent/dir"),
    (["convert", "/nonexistent/dir", "OUT"], r"/nonexistent/dir"),
    (["convert", "SRC", "OUT", "--max-shard-size", "lots"], r"max_shard_size|lots"),
    (["export", "SRC", "EXPORTS", "--version", "-3"], r"version"),
    (["export", "SRC", "EXPORTS", "--max-new-tokens", "0", "--generate"], r"max_new_tokens"),
])
def test_command_line_fails_in_one_line(gpt2, tmp_path, arguments, message):
    source = tmp_path / "src"
    gpt2.save_pretrained(source)
    arguments = [str(source) if a == "SRC" else str(tmp_path / a) if a in ("OUT", "EXPORTS") else a
                 for a in arguments]
    result = subprocess.run([sys.executable, "-m", "tfmodels.cli", *arguments], capture_output=True, text=True,
                            cwd=ROOT, timeout=300)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr[-2000:]
    assert __import__("re").search(message, result.stderr), result.stderr[-2000:]
    assert not (tmp_path / "OUT").exists()  # nothing written on failure
    assert not (tmp_path / "EXPORTS").exists() or os.listdir(tmp_path / "EXPORTS") == []
