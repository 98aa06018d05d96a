"""The Llama family (Llama, Mistral, Qwen2) against transformers (PyTorch) built from the same weights: Qwen2's biases
and tied embeddings, each `rope_scaling` type, Mistral's sliding window, sequence classification; half-precision
loading; configs read and written as transformers does; the `generate` signature of an export.
(The `llama_lm` and `mistral_lm` fixtures are compared in every layout, generation included, by `test_parity.py`
and `tests/tfmodels/generation/`.)"""

from __future__ import annotations

import json
import logging
import os

import ml_dtypes
import numpy as np
import pytest
import torch
import transformers

import tfmodels
from serving import export_saved_model
from tests.helpers import Case, assert_matches_pytorch_model, random_ids_and_mask
from tests.serving.test_export import _load_elsewhere
from tfmodels.checkpoints.safetensors_format import read_header, read_safetensors, write_safetensors
from tfmodels.errors import ConfigError
from tfmodels.save_load import checkpoint_dtype

TINY = dict(vocab_size=99, hidden_size=32, intermediate_size=37, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, max_position_embeddings=64, pad_token_id=0, bos_token_id=1, eos_token_id=2)
# rope_scaling type -> (rope_scaling, max_position_embeddings), with rope_theta 500 and head_dim 8.
ROPE_SCALINGS = {
    "linear": ({"rope_type": "linear", "factor": 2.5}, 64),
    "dynamic": ({"rope_type": "dynamic", "factor": 3.0}, 8),  # the positions from 8 on rescale it
    # wavelengths 6.3, 30, 140 and 664: the kept, the smoothed and the divided bands
    "llama3": ({"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                "original_max_position_embeddings": 64}, 128),
}


def _pytorch_model(class_name: str, **config):
    """A transformers model of `class_name` with the tiny config (and `config`), every parameter perturbed (so that
    biases and norm scales are not zeros and ones)."""
    torch.manual_seed(0)
    architecture = class_name.split("For")[0]
    pt_config = getattr(transformers, f"{architecture}Config")(**{**TINY, **config})
    model = getattr(transformers, class_name)(pt_config).eval()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.05)
    return model


def _saved(pt_model, directory) -> str:
    pt_model.save_pretrained(directory)
    return str(directory)


def _inputs(shape=(3, 11), seed=0):
    ids, mask = random_ids_and_mask(shape, np.random.default_rng(seed))
    return np.where(mask == 1, ids, TINY["pad_token_id"]).astype(np.int32), mask


def _left_padded_prompts(seed=1):
    ids, mask = _inputs((2, 6), seed)
    mask = mask[:, ::-1].copy()  # row 1 starts with 3 padding positions
    return np.where(mask == 1, ids[:, ::-1], TINY["pad_token_id"]).astype(np.int32), mask


def _pytorch_generate(pt_model, ids, mask, **kwargs) -> np.ndarray:
    with torch.no_grad():
        return pt_model.generate(torch.tensor(ids, dtype=torch.long), attention_mask=torch.tensor(mask),
                                 do_sample=False, pad_token_id=TINY["pad_token_id"], **kwargs).numpy()


def test_qwen2_with_query_key_value_biases_and_tied_embeddings_matches_pytorch(tmp_path):
    pt_model = _pytorch_model("Qwen2ForCausalLM", tie_word_embeddings=True)
    directory = _saved(pt_model, tmp_path)
    header, _, _ = read_header(os.path.join(directory, "model.safetensors"))
    assert "lm_head.weight" not in header and "model.layers.0.self_attn.q_proj.bias" in header
    ids, mask = _inputs()
    labels = np.where(mask == 1, ids, -100).astype(np.int64)
    model = assert_matches_pytorch_model("TFQwen2ForCausalLM", pt_model, directory, ids, mask, {"labels": labels},
                                         ["logits"])
    names = [w.path.split("/", 1)[1] for w in model.weights]
    assert "model/layers.0/self_attn/q_proj/bias" in names and "model/layers.0/self_attn/o_proj/bias" not in names
    assert not any("lm_head" in name for name in names)  # the head is the token embeddings
    prompts, prompt_mask = _left_padded_prompts()
    np.testing.assert_array_equal(model.generate(prompts, attention_mask=prompt_mask, max_new_tokens=6).numpy(),
                                  _pytorch_generate(pt_model, prompts, prompt_mask, max_new_tokens=6))
    assert type(tfmodels.TFAutoModelForCausalLM.from_pretrained(directory)) is tfmodels.TFQwen2ForCausalLM


@pytest.mark.parametrize("rope_type", sorted(ROPE_SCALINGS))
def test_rope_scaling_matches_pytorch(rope_type, tmp_path):
    scaling, max_positions = ROPE_SCALINGS[rope_type]
    pt_model = _pytorch_model("LlamaForCausalLM", max_position_embeddings=max_positions, rope_theta=500.0,
                              rope_scaling=dict(scaling))  # a copy: transformers adds rope_theta to it
    directory = _saved(pt_model, tmp_path)
    ids, mask = _inputs()
    model = assert_matches_pytorch_model("TFLlamaForCausalLM", pt_model, directory, ids, mask, {}, ["logits"])
    assert model.config.rope_scaling["rope_type"] == rope_type and model.config.rope_theta == 500.0
    # Generation runs positions past max_position_embeddings (the dynamic type rescales at every step).
    prompts, prompt_mask = _left_padded_prompts()
    expected = _pytorch_generate(pt_model, prompts, prompt_mask, max_new_tokens=7)
    np.testing.assert_array_equal(model.generate(prompts, attention_mask=prompt_mask, max_new_tokens=7).numpy(),
                                  expected)
    unscaled = tfmodels.TFLlamaForCausalLM.from_pretrained(directory, rope_scaling=None)
    assert not np.allclose(unscaled({"input_ids": ids}).logits, model({"input_ids": ids}).logits, atol=1e-3)


@pytest.mark.slow
def test_sliding_window_matches_pytorch_mistral_beyond_the_window(tmp_path):
    pt_model = _pytorch_model("MistralForCausalLM", sliding_window=4)
    directory = _saved(pt_model, tmp_path)
    ids, mask = _inputs()  # 11 positions, a window of 4
    model = assert_matches_pytorch_model("TFMistralForCausalLM", pt_model, directory, ids, mask, {}, ["logits"])
    unwindowed = tfmodels.TFMistralForCausalLM.from_pretrained(directory, sliding_window=None)
    assert not np.allclose(unwindowed({"input_ids": ids}).logits, model({"input_ids": ids}).logits, atol=1e-3)
    prompts, prompt_mask = _left_padded_prompts()
    expected = _pytorch_generate(pt_model, prompts, prompt_mask, max_new_tokens=8)
    for jit_compile in (False, True):
        np.testing.assert_array_equal(model.generate(prompts, attention_mask=prompt_mask, max_new_tokens=8,
                                                     jit_compile=jit_compile).numpy(), expected)


def test_qwen2_with_full_and_sliding_layers_matches_pytorch(tmp_path):
    """Layer 0 attends to every earlier position, layer 1 within a window of 4 (of 11 positions)."""
    pt_model = _pytorch_model("Qwen2ForCausalLM", use_sliding_window=True, sliding_window=4, max_window_layers=1)
    assert pt_model.config.layer_types == ["full_attention", "sliding_attention"]
    directory = _saved(pt_model, tmp_path)
    ids, mask = _inputs()
    model = assert_matches_pytorch_model("TFQwen2ForCausalLM", pt_model, directory, ids, mask, {}, ["logits"])
    assert model.backbone.stack.kinds == ["full_attention", "sliding_attention"]
    prompts, prompt_mask = _left_padded_prompts()
    np.testing.assert_array_equal(model.generate(prompts, attention_mask=prompt_mask, max_new_tokens=8).numpy(),
                                  _pytorch_generate(pt_model, prompts, prompt_mask, max_new_tokens=8))


def test_sequence_classification_matches_pytorch(tmp_path):
    pt_model = _pytorch_model("LlamaForSequenceClassification", num_labels=3)
    ids, mask = _inputs()  # right-padded with pad_token_id: the score is read at each row's last real token
    assert_matches_pytorch_model("TFLlamaForSequenceClassification", pt_model, _saved(pt_model, tmp_path), ids,
                                 mask, {"labels": np.array([0, 2, 1], np.int64)}, ["logits"])


def _half_precision_copy(case: Case, dtype, directory, nan_in: str | None = None) -> str:
    """The case's PyTorch safetensors converted to `dtype`, written as transformers writes them (with a NaN in the
    tensor `nan_in`)."""
    source = case.path("pt_safetensors")
    weights = read_safetensors(os.path.join(source, "model.safetensors"))
    try:
        tensors = {name: lazy.load().astype(dtype) for name, lazy in weights.tensors.items()}
    finally:
        weights.close()
    if nan_in is not None:
        tensors[nan_in][0] = np.nan
    os.makedirs(directory)
    write_safetensors(os.path.join(directory, "model.safetensors"), tensors, {"format": "pt"})
    with open(os.path.join(source, "config.json")) as handle:
        config = json.load(handle)
    with open(os.path.join(directory, "config.json"), "w") as handle:
        json.dump({**config, "dtype": np.dtype(dtype).name}, handle)
    return str(directory)


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_half_precision_checkpoints_load_into_half_precision_variables(dtype, tmp_path, caplog):
    case = Case("llama_lm")
    numpy_dtype = np.dtype(ml_dtypes.bfloat16) if dtype == "bfloat16" else np.dtype(np.float16)
    directory = _half_precision_copy(case, numpy_dtype, tmp_path / dtype)
    # dtype="auto": the config's dtype (as transformers writes it)
    model, info = tfmodels.TFLlamaForCausalLM.from_pretrained(directory, dtype="auto", output_loading_info=True)
    assert info == {"missing_keys": [], "unexpected_keys": [], "mismatched_keys": []}
    assert {w.dtype for w in model.weights} == {dtype}
    # The stored values themselves (no float32 round trip), laid out as TF's (Dense kernels transposed).
    stored = read_safetensors(os.path.join(directory, "model.safetensors"))
    try:
        q_proj = stored.tensors["model.layers.1.self_attn.q_proj.weight"].load()
    finally:
        stored.close()
    kernel = next(w for w in model.weights if w.path.endswith("layers.1/self_attn/q_proj/kernel"))
    np.testing.assert_array_equal(np.asarray(kernel.numpy()).view(np.uint16), q_proj.T.view(np.uint16))
    # A float32 checkpoint is cast tensor by tensor to the same values.
    from_float32 = tfmodels.TFLlamaForCausalLM.from_pretrained(case.path("pt_safetensors"), dtype=dtype)
    for ours, cast in zip(model.weights, from_float32.weights):
        np.testing.assert_array_equal(np.asarray(ours.numpy()).view(np.uint16),
                                      np.asarray(cast.numpy()).view(np.uint16))
    # And a half-precision checkpoint into a float32 model: the same values, widened.
    widened = tfmodels.TFLlamaForCausalLM.from_pretrained(directory, dtype="float32")
    kernel32 = next(w for w in widened.weights if w.path.endswith("layers.1/self_attn/q_proj/kernel"))
    assert kernel32.dtype == "float32"
    np.testing.assert_array_equal(kernel32.numpy(), q_proj.T.astype(np.float32))
    out = model({**case.inputs, **case.labels}, output_hidden_states=True)
    assert out.logits.dtype == "float32" and out.hidden_states[-1].dtype == dtype
    np.testing.assert_allclose(out.logits, case.reference["logits"], atol=0.1 if dtype == "bfloat16" else 0.02)
    np.testing.assert_allclose(np.mean(out.loss), case.reference["loss"], atol=0.02)
    data = np.load(os.path.join(case.root, "io.npz"))  # greedy decoding in half precision: PyTorch's fp32 tokens
    generated = model.generate(data["gen.input_ids"], attention_mask=data["gen.attention_mask"], max_new_tokens=8,
                               min_new_tokens=8)
    np.testing.assert_array_equal(generated.numpy(), data["gen.pt.greedy"])
    broken = _half_precision_copy(case, numpy_dtype, tmp_path / "nan", nan_in="model.norm.weight")
    with caplog.at_level(logging.WARNING, logger="tfmodels"):
        tfmodels.TFLlamaForCausalLM.from_pretrained(broken, dtype=dtype)
    assert [r.getMessage() for r in caplog.records if "NaN or Inf" in r.getMessage()] == [
        f"Weight 'model/norm/weight' ('model.norm.weight' in {broken}/model.safetensors) contains NaN or Inf values."]


def test_configs_read_and_write_transformers_rope_fields(tmp_path):
    scaling, max_positions = ROPE_SCALINGS["llama3"]
    ours = tfmodels.LlamaConfig(**{**TINY, "max_position_embeddings": max_positions}, rope_theta=500000.0,
                                rope_scaling=scaling)
    ours.save_pretrained(tmp_path / "ours")
    with open(tmp_path / "ours" / "config.json") as handle:
        written = json.load(handle)
    assert written["rope_scaling"] == scaling and written["rope_theta"] == 500000.0  # the reference's fields
    theirs = transformers.LlamaConfig.from_pretrained(tmp_path / "ours")
    assert theirs.rope_parameters == {**scaling, "rope_theta": 500000.0}
    theirs.save_pretrained(tmp_path / "theirs")  # transformers 5 writes `rope_parameters` instead
    read = tfmodels.AutoConfig.from_pretrained(tmp_path / "theirs")
    assert type(read) is tfmodels.LlamaConfig and (read.rope_theta, read.rope_scaling) == (500000.0, scaling)
    assert not hasattr(read, "rope_parameters") and read.head_dim == 8
    legacy = tfmodels.LlamaConfig(rope_scaling={"type": "linear", "factor": 2.0})
    assert legacy.rope_scaling == {"type": "linear", "factor": 2.0, "rope_type": "linear"}
    assert tfmodels.Qwen2Config(**TINY, sliding_window=16).sliding_window is None  # without use_sliding_window
    qwen = tfmodels.Qwen2Config(**TINY, use_sliding_window=True, sliding_window=16, max_window_layers=1)
    assert qwen.layer_types == ["full_attention", "sliding_attention"]


def test_unsupported_settings_are_refused_with_the_supported_ones():
    with pytest.raises(ConfigError, match=r"rope_scaling type 'yarn' is not supported; supported types: "
                                          r"\['default', 'linear', 'dynamic', 'llama3', 'longrope'\]"):
        tfmodels.LlamaConfig(rope_scaling={"rope_type": "yarn", "factor": 4.0})
    with pytest.raises(ConfigError, match=r"needs \['low_freq_factor', 'high_freq_factor'"):
        tfmodels.LlamaConfig(rope_scaling={"rope_type": "llama3", "factor": 8.0})
    with pytest.raises(ConfigError, match=r"layer_types may hold \['full_attention', 'sliding_attention'\]; "
                                          r"received \['chunked_attention'\]"):
        tfmodels.Qwen2Config(**TINY, layer_types=["full_attention", "chunked_attention"])
    with pytest.raises(ConfigError, match=r"layer_types lists 1 layers; the config has num_hidden_layers=2"):
        tfmodels.TFMistralForCausalLM(tfmodels.MistralConfig(**TINY, layer_types=["full_attention"]))
    with pytest.raises(ValueError, match=r"dtype='auto' reads the checkpoint's dtype from its config, which says "
                                         r"'int8'; pass one of \['float32', 'float16', 'bfloat16'\]"):
        checkpoint_dtype(tfmodels.LlamaConfig(torch_dtype="int8"))
    assert checkpoint_dtype(tfmodels.LlamaConfig(torch_dtype="torch.float16")) == "float16"
    with pytest.raises(ConfigError, match="multiple of num_key_value_heads"):
        tfmodels.TFLlamaModel(tfmodels.LlamaConfig(**{**TINY, "num_key_value_heads": 3}))


@pytest.mark.slow
def test_exported_generate_signature_answers_without_keras(tmp_path):
    case = Case("llama_lm")
    data = np.load(os.path.join(case.root, "io.npz"))
    model = tfmodels.TFLlamaForCausalLM.from_pretrained(case.path("pt_sharded_safetensors"))
    settings = {"max_new_tokens": 8, "min_new_tokens": 8}
    path = export_saved_model(model, tmp_path / "export", generate=True, verify=False,  # checked below instead
                              generation_kwargs={**settings, "pad_to_multiple_of": 8})
    ids, mask = data["gen.input_ids"], data["gen.attention_mask"]
    # In a process where keras and tfmodels cannot be imported: PyTorch's tokens.
    report = _load_elsewhere(path, {"a/generate/in/input_ids": ids, "a/generate/in/attention_mask": mask,
                                    "a/generate/out/sequences": data["gen.pt.greedy"]}, tmp_path)
    assert report["problems"] == [] and report["checked"] == 1
    assert {"generate", "generate_max_new_tokens", "serving_default"} <= set(report["signatures"])


def test_mistral_and_qwen2_classes_are_llama_s_with_their_config():
    for prefix, config_class in (("Mistral", tfmodels.MistralConfig), ("Qwen2", tfmodels.Qwen2Config)):
        for task in ("Model", "ForCausalLM", "ForSequenceClassification"):
            ours, llama = getattr(tfmodels, f"TF{prefix}{task}"), getattr(tfmodels, f"TFLlama{task}")
            assert issubclass(ours, llama) and ours.config_class is config_class
            assert ours.call is llama.call and prefix in ours.__doc__
    assert tfmodels.TFQwen2Model.qkv_bias and not tfmodels.TFMistralModel.qkv_bias

