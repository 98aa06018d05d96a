"""LoRA in PEFT's format: adapters through Keras' `Dense.enable_lora`, interop both ways with `peft` on transformers
(PyTorch) from the same base weights, merging, and the errors for adapters that do not fit."""

from __future__ import annotations

import json
import os

import keras
import numpy as np
import peft
import pytest
import torch
import transformers

import tfmodels
from tfmodels.keras_private import sublayers
from tests.helpers import random_ids_and_mask
from tfmodels.checkpoints.safetensors_format import read_safetensors
from tfmodels.errors import CheckpointError
from tfmodels.lora import has_lora

BERT = dict(vocab_size=99, hidden_size=16, num_hidden_layers=2, num_attention_heads=2, intermediate_size=20,
            hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
LLAMA = dict(vocab_size=99, hidden_size=16, intermediate_size=24, num_hidden_layers=2, num_attention_heads=4,
             num_key_value_heads=2, max_position_embeddings=32, tie_word_embeddings=False)
# (transformers class, our class, config, PEFT targets, output compared)
CASES = {
    "bert": ("BertModel", "TFBertModel", "BertConfig", BERT, ["query", "value"], "last_hidden_state"),
    "llama": ("LlamaForCausalLM", "TFLlamaForCausalLM", "LlamaConfig", LLAMA,
              ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"], "logits"),
    # Gemma 3: per-head q/k norms inside the attention (not adapted), sandwich norms, tied embeddings; a window
    # longer than the inputs' padding (a query row seeing only padding is undefined, and filled differently)
    "gemma3": ("Gemma3ForCausalLM", "TFGemma3ForCausalLM", "Gemma3TextConfig",
               dict(LLAMA, head_dim=6, query_pre_attn_scalar=6, sliding_window=4, sliding_window_pattern=2,
                    tie_word_embeddings=True),
               ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"], "logits"),
    "bert_seqcls": ("BertForSequenceClassification", "TFBertForSequenceClassification", "BertConfig",
                    dict(BERT, num_labels=3), ["query", "key", "value", "dense"], "logits"),
}


def pytorch_base(case: str, directory) -> tuple:
    """A seeded PyTorch model of `case` saved to `directory`, and our class loaded from it."""
    pt_class, tf_class, config_class, config, _, _ = CASES[case]
    torch.manual_seed(0)
    pt_model = getattr(transformers, pt_class)(getattr(transformers, config_class)(**config)).eval()
    pt_model.save_pretrained(directory)
    return pt_model, getattr(tfmodels, tf_class).from_pretrained(directory)


def pytorch_outputs(pt_model, ids, mask, name: str) -> np.ndarray:
    with torch.no_grad():
        out = pt_model(input_ids=torch.tensor(ids, dtype=torch.long), attention_mask=torch.tensor(mask))
    return getattr(out, name).numpy()


def randomize_adapters(model, seed: int = 1) -> None:
    """Non-zero A and B (a fresh adapter has B = 0, which would hide a wrong layout)."""
    rng = np.random.default_rng(seed)
    for layer in sublayers(model):
        if isinstance(layer, keras.layers.Dense) and layer.lora_enabled:
            for variable in (layer.lora_kernel_a, layer.lora_kernel_b):
                variable.assign(rng.normal(0, 0.3, variable.shape).astype(np.float32))


@pytest.mark.parametrize("case", sorted(CASES))
def test_adapter_written_by_peft_loads_with_equal_outputs(case, tmp_path):
    pt_base, model = pytorch_base(case, tmp_path / "base")
    targets, output = CASES[case][4], CASES[case][5]
    task = {"bert_seqcls": "SEQ_CLS", "llama": "CAUSAL_LM", "gemma3": "CAUSAL_LM"}.get(case)
    peft_model = peft.get_peft_model(pt_base, peft.LoraConfig(r=4, lora_alpha=8, target_modules=targets,
                                                              init_lora_weights=False, task_type=task)).eval()
    peft_model.save_pretrained(tmp_path / "adapter")
    ids, mask = random_ids_and_mask((2, 7), np.random.default_rng(0))
    before = np.asarray(model({"input_ids": ids, "attention_mask": mask})[output])

    modules = model.load_adapter(tmp_path / "adapter")

    expected = pytorch_outputs(peft_model, ids, mask, output)
    got = np.asarray(model({"input_ids": ids, "attention_mask": mask})[output])
    assert np.abs(expected - before).max() > 1e-2  # the adapter changes the outputs...
    np.testing.assert_allclose(got, expected, atol=1e-4, rtol=0)  # ...as PEFT's does
    # BERT: 2 layers x (query, value); the classifier: 2 x (query, key, value and 3 `dense`) + the pooler's `dense`;
    # Llama and Gemma 3: 2 x 7 projections
    assert len(modules) == {"bert": 4, "bert_seqcls": 13, "llama": 14, "gemma3": 14}[case]


def test_adapter_in_peft_pickle_format_loads_without_torch_code(tmp_path):
    pt_base, model = pytorch_base("bert", tmp_path / "base")
    peft_model = peft.get_peft_model(pt_base, peft.LoraConfig(r=2, target_modules=["key"], init_lora_weights=False))
    peft_model.save_pretrained(tmp_path / "adapter", safe_serialization=False)
    assert sorted(os.listdir(tmp_path / "adapter")) == ["README.md", "adapter_config.json", "adapter_model.bin"]
    ids, mask = random_ids_and_mask((2, 7), np.random.default_rng(0))

    assert model.load_adapter(tmp_path / "adapter") == [f"encoder.layer.{i}.attention.self.key" for i in (0, 1)]
    np.testing.assert_allclose(model({"input_ids": ids, "attention_mask": mask}).last_hidden_state,
                               pytorch_outputs(peft_model.eval(), ids, mask, "last_hidden_state"), atol=1e-4, rtol=0)


def test_adapter_loads_from_a_hub_repo(tmp_path):
    from tests.tfmodels.test_hub import lay_out_cache

    pt_base, model = pytorch_base("bert", tmp_path / "base")
    peft_model = peft.get_peft_model(pt_base, peft.LoraConfig(r=2, target_modules=["value"], init_lora_weights=False))
    peft_model.save_pretrained(tmp_path / "adapter")
    cache = str(tmp_path / "cache")
    lay_out_cache(cache, "org/bert-lora", str(tmp_path / "adapter"))
    lay_out_cache(cache, "org/bert", str(tmp_path / "base"))
    ids, mask = random_ids_and_mask((2, 7), np.random.default_rng(0))

    model.load_adapter("org/bert-lora", cache_dir=cache, local_files_only=True)
    np.testing.assert_allclose(model({"input_ids": ids, "attention_mask": mask}).last_hidden_state,
                               pytorch_outputs(peft_model.eval(), ids, mask, "last_hidden_state"), atol=1e-4, rtol=0)
    with pytest.raises(CheckpointError, match="The Hub repo 'org/bert' has no adapter_config.json"):
        model.load_adapter("org/bert", cache_dir=cache, local_files_only=True)


@pytest.mark.parametrize("case", sorted(CASES))
def test_adapter_written_here_loads_in_peft_with_equal_outputs(case, tmp_path):
    pt_base, model = pytorch_base(case, tmp_path / "base")
    targets, output = CASES[case][4], CASES[case][5]
    model.enable_lora(4, target_modules=targets, alpha=8)
    randomize_adapters(model)
    if "seqcls" in case:  # the head is trained and saved in full (PEFT's modules_to_save for SEQ_CLS)
        model.classifier.kernel.assign(np.random.default_rng(2).normal(0, 1, model.classifier.kernel.shape))
    ids, mask = random_ids_and_mask((2, 7), np.random.default_rng(0))
    ours = np.asarray(model({"input_ids": ids, "attention_mask": mask})[output])

    model.save_pretrained(tmp_path / "adapter", adapter_only=True)

    peft_model = peft.PeftModel.from_pretrained(pt_base, tmp_path / "adapter").eval()
    np.testing.assert_allclose(pytorch_outputs(peft_model, ids, mask, output), ours, atol=1e-4, rtol=0)


def test_adapters_of_several_ranks_go_through_peft_and_back(tmp_path):
    pt_base, model = pytorch_base("llama", tmp_path / "base")
    model.enable_lora(4, target_modules=["q_proj", "v_proj"], alpha=8)
    model.enable_lora(2, target_modules=["down_proj"], alpha=3)
    randomize_adapters(model)
    ids, mask = random_ids_and_mask((2, 7), np.random.default_rng(0))
    ours = np.asarray(model({"input_ids": ids, "attention_mask": mask}).logits)
    model.save_pretrained(tmp_path / "adapter", adapter_only=True)
    config = json.loads((tmp_path / "adapter" / "adapter_config.json").read_text())
    down = [f"model.layers.{i}.mlp.down_proj" for i in (0, 1)]
    assert (config["r"], config["lora_alpha"]) == (4, 8)
    assert config["rank_pattern"] == dict.fromkeys(down, 2) and config["alpha_pattern"] == dict.fromkeys(down, 3)
    assert config["target_modules"] == sorted(down + [f"model.layers.{i}.self_attn.{p}_proj" for i in (0, 1)
                                                      for p in "qv"])

    peft_model = peft.PeftModel.from_pretrained(pt_base, tmp_path / "adapter").eval()
    np.testing.assert_allclose(pytorch_outputs(peft_model, ids, mask, "logits"), ours, atol=1e-4, rtol=0)
    peft_model.save_pretrained(tmp_path / "again")
    reloaded = tfmodels.TFLlamaForCausalLM.from_pretrained(tmp_path / "base")
    reloaded.load_adapter(tmp_path / "again")
    np.testing.assert_allclose(reloaded({"input_ids": ids, "attention_mask": mask}).logits, ours, atol=1e-5, rtol=0)


def test_adapter_files_have_peft_names_shapes_and_config(tmp_path):
    model = tfmodels.TFBertForSequenceClassification(tfmodels.BertConfig(**BERT, num_labels=3))
    model.enable_lora(4, target_modules=["query", "value"], alpha=16)
    assert model.save_pretrained(tmp_path, adapter_only=True) is None
    assert sorted(os.listdir(tmp_path)) == ["adapter_config.json", "adapter_model.safetensors"]
    config = json.loads((tmp_path / "adapter_config.json").read_text())
    assert {k: config[k] for k in ("peft_type", "task_type", "r", "lora_alpha", "target_modules", "bias",
                                   "fan_in_fan_out", "modules_to_save", "use_dora", "use_rslora")} == {
        "peft_type": "LORA", "task_type": "SEQ_CLS", "r": 4, "lora_alpha": 16, "target_modules": ["query", "value"],
        "bias": "none", "fan_in_fan_out": False, "modules_to_save": ["classifier"], "use_dora": False,
        "use_rslora": False}
    weights = read_safetensors(str(tmp_path / "adapter_model.safetensors"))
    shapes = {name: tensor.shape for name, tensor in weights.tensors.items()}
    weights.close()
    expected = {"base_model.model.classifier.weight": (3, 16), "base_model.model.classifier.bias": (3,)}
    for layer in range(2):
        for projection in ("query", "value"):
            stem = f"base_model.model.bert.encoder.layer.{layer}.attention.self.{projection}"
            expected[f"{stem}.lora_A.weight"] = (4, 16)
            expected[f"{stem}.lora_B.weight"] = (16, 4)
    assert shapes == expected


def test_only_adapters_train_and_merge_gives_a_plain_model_with_the_same_outputs(tmp_path):
    model = tfmodels.TFBertModel(tfmodels.BertConfig(**BERT))
    before = {v.path: np.asarray(v.value) for v in model.weights}
    modules = model.enable_lora(2, target_modules=r".*layer\.0\.attention\.self\.(query|value)")
    # PyTorch's BertModel has no `bert.` prefix: nor have the module paths of our bare model
    assert modules == ["encoder.layer.0.attention.self.query", "encoder.layer.0.attention.self.value"]
    assert sorted(v.path.split("/", 1)[1] for v in model.trainable_weights) == [
        f"bert/encoder/layer_._0/attention/self/{p}/lora_kernel_{m}" for p in ("query", "value") for m in "ab"]
    assert model.num_parameters(only_trainable=True) == 2 * (16 * 2 + 2 * 16)

    ids, mask = random_ids_and_mask((4, 6), np.random.default_rng(0))
    model.compile(optimizer=keras.optimizers.SGD(0.5), loss=lambda y, p: keras.ops.mean(p ** 2))
    model.fit({"input_ids": ids, "attention_mask": mask}, np.zeros((4,)), epochs=2, verbose=0)
    after = {v.path: np.asarray(v.value) for v in model.weights}
    changed = sorted(path.split("/", 1)[1] for path in after if path not in before
                     or not np.array_equal(before[path], after[path]))
    assert changed == sorted(v.path.split("/", 1)[1] for v in model.trainable_weights)  # adapters only
    tuned = np.asarray(model({"input_ids": ids, "attention_mask": mask}).last_hidden_state)

    assert model.merge_lora() == modules
    np.testing.assert_allclose(np.asarray(model({"input_ids": ids, "attention_mask": mask}).last_hidden_state),
                               tuned, atol=1e-5, rtol=0)
    assert not any("lora" in v.path for v in model.weights)
    assert len(model.trainable_weights) == len(model.weights)  # what enable_lora froze trains again
    np.testing.assert_allclose(model.predict({"input_ids": ids, "attention_mask": mask}, verbose=0)[
        "last_hidden_state"], tuned, atol=1e-5, rtol=0)  # no stale traced function adds the adapter twice
    model.save_pretrained(tmp_path, safe_serialization=True)
    reloaded, info = tfmodels.TFBertModel.from_pretrained(tmp_path, output_loading_info=True)
    assert info == {"missing_keys": [], "unexpected_keys": [], "mismatched_keys": []}
    np.testing.assert_allclose(np.asarray(reloaded({"input_ids": ids, "attention_mask": mask}).last_hidden_state),
                               tuned, atol=1e-5, rtol=0)


def test_errors_name_the_problem(tmp_path):
    model = tfmodels.TFBertModel(tfmodels.BertConfig(**BERT))
    with pytest.raises(ValueError, match=r"No projection of TFBertModel matches target_modules=\['q_proj'\]. Its "
                                         r"projections are named \['dense', 'key', 'query', 'value'\]"):
        model.enable_lora(4, target_modules=["q_proj"])
    with pytest.raises(ValueError, match="rank must be a positive integer; received 0"):
        model.enable_lora(0, target_modules=["query"])
    with pytest.raises(ValueError, match="has no LoRA adapters to save"):
        model.save_pretrained(tmp_path / "none", adapter_only=True)
    with pytest.raises(ValueError, match="has no LoRA adapters to merge"):
        model.merge_lora()
    model.enable_lora(4, target_modules=["query"])
    with pytest.raises(ValueError, match="LoRA is already enabled on"):
        model.enable_lora(4, target_modules=["query"])
    with pytest.raises(ValueError, match=r"has LoRA adapters: save them with save_pretrained\(path, adapter_only"):
        model.save_pretrained(tmp_path / "whole")
    gpt2 = tfmodels.TFGPT2LMHeadModel(tfmodels.GPT2Config(vocab_size=99, n_embd=16, n_layer=1, n_head=2))
    with pytest.raises(ValueError, match="GPT-2's fused Conv1D, which Keras' enable_lora does not support"):
        gpt2.enable_lora(4, target_modules=["c_attn"])


def test_adapters_that_do_not_fit_are_refused(tmp_path):
    model = tfmodels.TFBertModel(tfmodels.BertConfig(**BERT))
    model.enable_lora(4, target_modules=["query"])
    model.save_pretrained(tmp_path / "adapter", adapter_only=True)
    wider = tfmodels.TFBertModel(tfmodels.BertConfig(**dict(BERT, hidden_size=32)))
    with pytest.raises(CheckpointError, match=r"does not fit 'encoder.layer.0.attention.self.query': lora_A "
                                              r"\(4, 16\) and lora_B \(16, 4\), where the model's projection "
                                              r"\(32 -> 32\) needs \(4, 32\) and \(32, 4\)"):
        wider.load_adapter(tmp_path / "adapter")
    with pytest.raises(CheckpointError, match=r"adapts \['h.0.attn.c_attn'\], which TFBertModel does not have"):
        torch.manual_seed(0)
        gpt2 = transformers.GPT2Model(transformers.GPT2Config(vocab_size=99, n_embd=16, n_layer=1, n_head=2))
        peft.get_peft_model(gpt2, peft.LoraConfig(r=2, target_modules=["c_attn"])).save_pretrained(tmp_path / "gpt2")
        tfmodels.TFBertModel(tfmodels.BertConfig(**BERT)).load_adapter(tmp_path / "gpt2")
    config = json.loads((tmp_path / "adapter" / "adapter_config.json").read_text())
    (tmp_path / "adapter" / "adapter_config.json").write_text(json.dumps({**config, "use_dora": True}))
    with pytest.raises(CheckpointError, match="uses use_dora=True, which Keras' LoRA cannot compute"):
        tfmodels.TFBertModel(tfmodels.BertConfig(**BERT)).load_adapter(tmp_path / "adapter")
    with pytest.raises(CheckpointError, match="holds no adapter_config.json: it is not a PEFT adapter directory"):
        model.load_adapter(tmp_path)


def test_functions_traced_before_the_adapters_are_retraced():
    model = tfmodels.TFLlamaForCausalLM(tfmodels.LlamaConfig(**LLAMA))
    prompt = np.array([[5, 6, 7, 8]], np.int32)
    generation = dict(max_new_tokens=1, output_scores=True, return_dict_in_generate=True)
    model.generate(prompt, **generation)  # traces generate's forward graph and the serving function
    model.serving({"input_ids": prompt, "attention_mask": np.ones_like(prompt)})
    model.enable_lora(4, target_modules=["q_proj", "v_proj", "down_proj"])
    randomize_adapters(model)
    logits = np.asarray(model(prompt).logits)

    np.testing.assert_allclose(model.generate(prompt, **generation).scores[0], logits[:, -1], atol=1e-5, rtol=0)
    served = model.serving({"input_ids": prompt, "attention_mask": np.ones_like(prompt)})["logits"]
    np.testing.assert_allclose(served, logits, atol=1e-5, rtol=0)


def test_enable_lora_after_fit_warns_to_compile_again_and_then_trains_the_adapters(caplog):
    model = tfmodels.TFBertModel(tfmodels.BertConfig(**BERT))
    ids, mask = random_ids_and_mask((4, 6), np.random.default_rng(0))
    inputs = {"input_ids": ids, "attention_mask": mask}

    def fit():
        model.compile(optimizer=keras.optimizers.SGD(0.5), loss=lambda y, p: keras.ops.mean(p ** 2))
        model.fit(inputs, np.zeros((4,)), epochs=1, verbose=0)

    fit()
    model.enable_lora(2, target_modules=["query"])
    assert [r.getMessage() for r in caplog.records if "optimizer was already built" in r.getMessage()] == [
        "Adding LoRA adapters changed which weights of TFBertModel train, but its optimizer was already built (by "
        "fit) for the previous ones: call compile() again, with a new optimizer, before the next fit(), or Keras "
        "refuses the new weights as unknown variables."]
    before = {v.path: np.asarray(v.value) for v in model.weights}
    fit()  # compile() again, as the warning says
    changed = sorted(v.path for v in model.weights if not np.array_equal(before[v.path], np.asarray(v.value)))
    # one step: B leaves zero (A's gradient is zero while B is)
    assert changed == sorted(v.path for v in model.trainable_weights if v.path.endswith("lora_kernel_b"))
    assert len(changed) == 2


def test_merge_restores_the_trainable_flags_from_before_the_adapters():
    model = tfmodels.TFBertForSequenceClassification(tfmodels.BertConfig(**BERT, num_labels=3))
    flags = {}
    for variable in model.weights:  # freeze the embeddings, layer 0's query kernel and the classifier's bias
        if "embeddings" in variable.path or variable.path.endswith(("layer_._0/attention/self/query/kernel",
                                                                    "classifier/bias")):
            variable.trainable = False
        flags[variable.path] = variable.trainable
    assert sum(not flag for flag in flags.values()) == 3 + 2 + 1 + 1  # 3 tables, LayerNorm, query, bias

    model.enable_lora(2, target_modules=["query"])  # the classifier is saved in full (and trained)
    assert sorted(v.path.split("/", 1)[1] for v in model.trainable_weights if "lora" not in v.path) == [
        "classifier/bias", "classifier/kernel"]
    model.merge_lora()
    assert {v.path: v.trainable for v in model.weights} == flags


def test_save_adapter_writes_float32_under_a_bfloat16_policy(tmp_path):
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("bfloat16")
    try:
        model = tfmodels.TFBertForSequenceClassification(tfmodels.BertConfig(**BERT, num_labels=3))
    finally:
        keras.config.set_dtype_policy(previous)
    assert model.classifier.kernel.dtype == "bfloat16"
    model.enable_lora(2, target_modules=["query"])
    model.save_pretrained(tmp_path, adapter_only=True)
    weights = read_safetensors(str(tmp_path / "adapter_model.safetensors"))
    arrays = {name: np.asarray(lazy.load()) for name, lazy in weights.tensors.items()}
    weights.close()
    assert {name: array.dtype for name, array in arrays.items()} == dict.fromkeys(arrays, np.dtype(np.float32))
    assert len(arrays) == 2 * 2 + 2  # 2 layers x lora_A/B, the classifier's kernel and bias
    np.testing.assert_array_equal(arrays["base_model.model.classifier.weight"],
                                  np.asarray(model.classifier.kernel.value).astype(np.float32).T)


def test_an_adapter_that_does_not_fit_leaves_the_model_unchanged(tmp_path):
    model = tfmodels.TFBertForSequenceClassification(tfmodels.BertConfig(**BERT, num_labels=3))
    model.enable_lora(2, target_modules=["query"], modules_to_save=["pooler", "classifier"])
    randomize_adapters(model)
    model.save_pretrained(tmp_path, adapter_only=True)
    two_labels = tfmodels.TFBertForSequenceClassification(tfmodels.BertConfig(**BERT, num_labels=2))
    before = {v.path: np.asarray(v.value) for v in two_labels.weights}

    # the pooler's weights fit and the adapters too: only the classifier's do not
    with pytest.raises(CheckpointError, match=r"saves 'classifier.(weight|bias)' with shape \((3, 16|3,)\); the "
                                              r"model's weight has shape \((16, 2|2,)\)"):
        two_labels.load_adapter(tmp_path)
    assert not has_lora(two_labels)
    assert {v.path: np.asarray(v.value) for v in two_labels.weights}.keys() == before.keys()
    for variable in two_labels.weights:
        np.testing.assert_array_equal(np.asarray(variable.value), before[variable.path], err_msg=variable.path)
        assert variable.trainable, variable.path
