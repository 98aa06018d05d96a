"""Today's decoder families beyond their fixtures (`test_parity.py` and `tests/tfmodels/generation/` compare every
layout, hidden states and greedy/beam tokens of `gemma_lm`, `gemma2_lm`, `gemma3_lm`, `qwen3_lm`, `phi3_lm` and
`mixtral_lm`): Phi-3's LongRoPE past `original_max_position_embeddings`, configs as transformers 5 writes them,
half-precision loading, the exported `generate` of a model with sliding-window and full-attention layers, and
Mixtral's router logits, load-balancing loss, expert computation and LoRA on its experts."""

from __future__ import annotations

import json
import os

import ml_dtypes
import numpy as np
import pytest
import tensorflow as tf
import torch
import transformers

import tfmodels
from serving import export_saved_model
from tests.helpers import Case
from tests.serving.test_export import _load_elsewhere
from tfmodels.checkpoints.safetensors_format import read_safetensors
from tfmodels.errors import ConfigError
from tfmodels.layers.moe import SparseMoEFeedForward
from tfmodels.layers.rotary import normalize_rope_scaling


def _pytorch_fixture(case: Case):
    return getattr(transformers, case.meta["pt_class"]).from_pretrained(case.path("pt_safetensors")).eval()


def _pytorch_generate(pt_model, ids, mask, **kwargs) -> np.ndarray:
    with torch.no_grad():
        return pt_model.generate(torch.tensor(ids, dtype=torch.long), attention_mask=torch.tensor(mask),
                                 do_sample=False, pad_token_id=0, **kwargs).numpy()


def test_phi3_longrope_past_the_original_positions_matches_pytorch():
    """40 positions (the fixture's `original_max_position_embeddings` is 32): the long factors and LongRoPE's
    attention factor apply to the whole pass; generation from 28 tokens crosses 32 on its fifth step."""
    case = Case("phi3_lm")
    pt_model = _pytorch_fixture(case)
    model = tfmodels.TFPhi3ForCausalLM.from_pretrained(case.path("pt_safetensors"))
    rng = np.random.default_rng(0)
    ids = rng.integers(3, 99, (2, 40)).astype(np.int32)
    with torch.no_grad():
        expected = pt_model(input_ids=torch.tensor(ids, dtype=torch.long)).logits.numpy()
    np.testing.assert_allclose(model({"input_ids": ids}).logits, expected, atol=1e-4, rtol=0)
    short = model({"input_ids": ids[:, :30]}).logits  # the short factors: the same positions, other logits
    assert np.abs(np.asarray(short) - expected[:, :30]).max() > 1e-2

    prompts, mask = ids[:, :28].copy(), np.ones((2, 28), np.int32)
    prompts[1, :3], mask[1, :3] = 0, 0  # left padding: row 1's positions count from its first real token
    reference = _pytorch_generate(pt_model, prompts, mask, max_new_tokens=8)
    for jit_compile in (False, True):
        np.testing.assert_array_equal(
            model.generate(prompts, attention_mask=mask, max_new_tokens=8, jit_compile=jit_compile).numpy(),
            reference, err_msg=f"jit_compile={jit_compile}")


def test_configs_as_transformers_5_writes_them_are_read(tmp_path):
    """transformers 5 writes `rope_parameters` (Gemma 3: one entry per layer kind; Phi-3: with the partial rotary
    factor inside); ours writes the reference's fields, which transformers 5 reads back to the same settings."""
    gemma3 = transformers.Gemma3TextConfig(num_hidden_layers=4, sliding_window_pattern=2, rope_theta=500000.0,
                                           rope_local_base_freq=20000.0, rope_scaling={"rope_type": "linear",
                                                                                        "factor": 8.0})
    gemma3.save_pretrained(tmp_path / "gemma3")
    ours = tfmodels.AutoConfig.from_pretrained(tmp_path / "gemma3")
    assert type(ours) is tfmodels.Gemma3TextConfig
    assert (ours.rope_theta, ours.rope_local_base_freq) == (500000.0, 20000.0)
    assert ours.rope_scaling == {"rope_type": "linear", "factor": 8.0}
    assert ours.layer_types == ["sliding_attention", "full_attention"] * 2
    ours.save_pretrained(tmp_path / "ours")
    theirs = transformers.AutoConfig.from_pretrained(tmp_path / "ours")
    assert theirs.rope_parameters == gemma3.rope_parameters and theirs.layer_types == gemma3.layer_types

    scaling = {"rope_type": "longrope", "short_factor": [1.0] * 6, "long_factor": [2.0] * 6}
    phi3 = transformers.Phi3Config(hidden_size=64, num_attention_heads=4, partial_rotary_factor=0.75,
                                   original_max_position_embeddings=32, max_position_embeddings=128,
                                   rope_scaling=dict(scaling))
    phi3.save_pretrained(tmp_path / "phi3")
    ours = tfmodels.AutoConfig.from_pretrained(tmp_path / "phi3")
    assert ours.partial_rotary_factor == 0.75 and {key: ours.rope_scaling[key] for key in scaling} == scaling
    early = tfmodels.Phi3Config(rope_scaling={"type": "su", "short_factor": [1.0], "long_factor": [1.0]})
    assert early.rope_scaling == {"type": "su", "short_factor": [1.0], "long_factor": [1.0]}  # kept as written
    assert normalize_rope_scaling(early.rope_scaling)["rope_type"] == "longrope"  # Phi-3's early name
    with pytest.raises(ConfigError, match="Phi-3's rope_scaling is None or of type 'longrope'"):
        tfmodels.Phi3Config(rope_scaling={"rope_type": "linear", "factor": 2.0})
    with pytest.raises(ConfigError, match="use_bidirectional_attention=True"):
        tfmodels.Gemma3TextConfig(use_bidirectional_attention=True)


def _bfloat16_model(case: Case):
    """The case loaded shard by shard into bfloat16 variables, checked against a float32 load cast afterwards."""
    model = case.model_class.from_pretrained(case.path("pt_sharded_safetensors"), dtype="bfloat16")
    assert {w.dtype for w in model.weights} == {"bfloat16"}
    full = case.model_class.from_pretrained(case.path("pt_safetensors"))
    for half, whole in zip(model.weights, full.weights):
        np.testing.assert_array_equal(np.asarray(half.numpy()).view(np.uint16),
                                      whole.numpy().astype(ml_dtypes.bfloat16).view(np.uint16))
    return model


@pytest.mark.parametrize("case_name", ["gemma2_lm", "phi3_lm"])
def test_bfloat16_loading_keeps_the_checkpoint_s_values(case_name):
    case = Case(case_name)
    out = _bfloat16_model(case)({**case.inputs, **case.labels})
    assert out.logits.dtype == "float32"
    np.testing.assert_allclose(out.logits, case.reference["logits"], atol=0.1)
    np.testing.assert_allclose(np.mean(out.loss), case.reference["loss"], atol=0.02)


def test_bfloat16_gemma2_generates_pytorch_s_tokens():
    """Gemma 2 in bfloat16 (embedding scale rounded, soft-capping, sliding layers) gives PyTorch's float32 tokens
    (transformers in bfloat16 gives them too; Phi-3's fixture meets a near tie in bfloat16, in PyTorch as here)."""
    case = Case("gemma2_lm")
    data = np.load(os.path.join(case.root, "io.npz"))
    generated = _bfloat16_model(case).generate(data["gen.input_ids"], attention_mask=data["gen.attention_mask"],
                                               max_new_tokens=8, min_new_tokens=8)
    np.testing.assert_array_equal(generated.numpy(), data["gen.pt.greedy"])


@pytest.mark.slow
def test_exported_generate_of_sliding_and_full_layers_answers_without_keras(tmp_path):
    case = Case("gemma2_lm")
    data = np.load(os.path.join(case.root, "io.npz"))
    model = tfmodels.TFGemma2ForCausalLM.from_pretrained(case.path("pt_safetensors"))
    settings = {"max_new_tokens": 8, "min_new_tokens": 8}
    path = export_saved_model(model, tmp_path / "export", generate=True, verify=False,  # checked below instead
                              generation_kwargs={**settings, "pad_to_multiple_of": 8})
    report = _load_elsewhere(path, {"a/generate/in/input_ids": data["gen.input_ids"],
                                    "a/generate/in/attention_mask": data["gen.attention_mask"],
                                    "a/generate/out/sequences": data["gen.pt.greedy"]}, tmp_path)
    assert report["problems"] == [] and report["checked"] == 1


def test_mixtral_router_logits_and_load_balancing_loss_match_pytorch():
    case = Case("mixtral_lm")
    pt_model = _pytorch_fixture(case)
    model = tfmodels.TFMixtralForCausalLM.from_pretrained(case.path("pt_safetensors"))
    inputs = {**case.inputs, **case.labels}
    with torch.no_grad():
        expected = pt_model(**{k: torch.tensor(v, dtype=torch.long) for k, v in inputs.items()},
                            output_router_logits=True)
    out = model(inputs, output_router_logits=True)
    assert len(out.router_logits) == 2 and out.router_logits[0].shape == (3 * 11, 4)
    for ours, theirs in zip(out.router_logits, expected.router_logits):
        np.testing.assert_allclose(ours, theirs.numpy(), atol=1e-5, rtol=0)
    np.testing.assert_allclose(out.aux_loss, expected.aux_loss.numpy(), atol=1e-6, rtol=0)
    np.testing.assert_allclose(np.mean(out.loss), expected.loss.numpy(), atol=1e-5, rtol=0)
    assert abs(float(np.mean(out.loss)) - float(case.reference["loss"])) > 1e-3  # the coefficient's share
    plain = model(inputs)  # the config's output_router_logits (False): no router outputs, the LM loss alone
    assert "aux_loss" not in plain and "router_logits" not in plain
    np.testing.assert_allclose(np.mean(plain.loss), case.reference["loss"], atol=1e-5, rtol=0)


def test_mixture_of_experts_computes_the_same_tokens_gathered_and_under_xla():
    """Each expert gathers its tokens eagerly and in a traced function; under XLA (no data-dependent shapes) each
    expert in use runs on every token: the same outputs, and the experts nobody picked are skipped."""
    model = tfmodels.TFMixtralForCausalLM.from_pretrained(Case("mixtral_lm").path("pt_safetensors"))
    moe = model.backbone.stack[0].mlp
    tokens = np.random.default_rng(0).normal(size=(3, 7, 32)).astype(np.float32)
    eager, logits = moe(tokens)
    traced = tf.function(lambda x: moe(x)[0])(tokens)
    compiled = tf.function(lambda x: moe(x)[0], jit_compile=True)(tokens)
    np.testing.assert_allclose(traced, eager, atol=1e-6, rtol=0)
    np.testing.assert_allclose(compiled, eager, atol=1e-6, rtol=0)
    # The reference's sum, densely: every expert on every token, weighted by its renormalised top-2 probability.
    probabilities = tf.nn.softmax(logits).numpy()
    top2 = np.argsort(-probabilities, axis=-1)[:, :2]
    weights = np.zeros_like(probabilities)
    np.put_along_axis(weights, top2, np.take_along_axis(probabilities, top2, -1), -1)
    weights /= weights.sum(-1, keepdims=True)
    flat = tokens.reshape(-1, 32)
    dense = sum(weights[:, [j]] * expert(flat).numpy() for j, expert in enumerate(moe.experts))
    np.testing.assert_allclose(np.asarray(eager).reshape(-1, 32), dense, atol=1e-6, rtol=0)
    # Router jitter (training only): the tokens are scaled by noise in [0.5, 1.5] before routing.
    jittered = SparseMoEFeedForward(32, 16, num_experts=4, top_k=2, activation="silu", jitter_noise=0.5,
                                    name="block_sparse_moe")
    plain = np.asarray(jittered(tokens)[0])
    assert np.abs(np.asarray(jittered(tokens, training=True)[0]) - plain).max() > 0.1 * np.abs(plain).max()
    np.testing.assert_array_equal(np.asarray(jittered(tokens, training=False)[0]), plain)


def test_lora_on_mixtral_experts_saves_peft_module_names_and_merges_into_a_transformers_checkpoint(tmp_path):
    case = Case("mixtral_lm")
    model = tfmodels.TFMixtralForCausalLM.from_pretrained(case.path("pt_safetensors"))
    modules = model.enable_lora(4, target_modules=["q_proj", "w1", "w2", "w3"], alpha=8)
    rng = np.random.default_rng(1)
    for variable in model.trainable_weights:
        if "lora_kernel" in variable.path:
            variable.assign(rng.normal(0, 0.3, variable.shape).astype(np.float32))
    ours = np.asarray(model(case.inputs).logits)
    assert np.abs(ours - case.reference["logits"]).max() > 1e-2  # the adapters act on the experts
    model.save_pretrained(tmp_path / "adapter", adapter_only=True)
    assert json.loads((tmp_path / "adapter" / "adapter_config.json").read_text())["target_modules"] == [
        "q_proj", "w1", "w2", "w3"]
    experts = [f"model.layers.{i}.block_sparse_moe.experts.{j}.{w}" for i in (0, 1) for j in range(4)
               for w in ("w1", "w2", "w3")]
    assert sorted(modules) == sorted(experts + [f"model.layers.{i}.self_attn.q_proj" for i in (0, 1)])
    saved = read_safetensors(str(tmp_path / "adapter" / "adapter_model.safetensors"))
    keys = set(saved.tensors)
    saved.close()
    assert {f"base_model.model.{name}.lora_{part}.weight" for name in modules for part in "AB"} == keys
    reloaded = tfmodels.TFMixtralForCausalLM.from_pretrained(case.path("pt_safetensors"))
    reloaded.load_adapter(tmp_path / "adapter")
    np.testing.assert_allclose(reloaded(case.inputs).logits, ours, atol=1e-5, rtol=0)

    model.merge_lora()
    model.save_pretrained(tmp_path / "merged", safe_serialization=True)
    pt_model = transformers.MixtralForCausalLM.from_pretrained(tmp_path / "merged").eval()
    with torch.no_grad():
        theirs = pt_model(**{k: torch.tensor(v, dtype=torch.long) for k, v in case.inputs.items()}).logits
    np.testing.assert_allclose(theirs.numpy(), ours, atol=1e-5, rtol=0)
