"""TFGPT2DoubleHeadsModel against transformers' PyTorch GPT2DoubleHeadsModel on the same random weights, and its
weight names (the reference TF model's)."""

import h5py
import numpy as np
import pytest
import torch
import transformers

import tfmodels
from tests.helpers import Case
from tfmodels.checkpoints.h5_format import load_attributes
from tfmodels.checkpoints.safetensors_format import read_header

GPT2 = dict(vocab_size=99, n_embd=32, n_layer=2, n_head=4, n_positions=64, bos_token_id=1, eos_token_id=2)
NAME = "tfgpt2_double_heads_model"


def _long(array) -> torch.Tensor:
    return torch.tensor(np.asarray(array), dtype=torch.long)


def _save_pytorch(directory, **overrides) -> transformers.GPT2DoubleHeadsModel:
    torch.manual_seed(0)
    model = transformers.GPT2DoubleHeadsModel(transformers.GPT2Config(**GPT2, **overrides)).eval()
    model.save_pretrained(directory)
    return model


def _batch() -> dict[str, np.ndarray]:
    """Two choices per example, right padding in the second example, labels on the real tokens only."""
    rng = np.random.default_rng(0)
    ids = rng.integers(3, 98, (3, 2, 7)).astype(np.int32)
    mask = np.ones_like(ids)
    mask[1, :, -2:] = 0
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": rng.integers(0, 3, ids.shape).astype(np.int32),
            "mc_token_ids": np.array([[6, 4], [4, 3], [0, 6]], np.int32),
            "labels": np.where(mask == 1, ids, -100).astype(np.int32), "mc_labels": np.array([1, 0, 1], np.int32)}


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    directory = tmp_path_factory.mktemp("double_heads")
    pt_model = _save_pytorch(directory)
    model, info = tfmodels.TFGPT2DoubleHeadsModel.from_pretrained(directory, output_loading_info=True)
    assert info == {"missing_keys": [], "unexpected_keys": [], "mismatched_keys": []}
    return pt_model, model


def test_logits_losses_and_hidden_states_match_pytorch(pair):
    pt_model, model = pair
    batch = _batch()
    with torch.no_grad():
        pt = pt_model(**{k: _long(v) for k, v in batch.items()}, output_hidden_states=True)
    out = model(batch, output_hidden_states=True)
    assert list(out.keys()) == ["loss", "logits", "mc_logits", "past_key_values", "hidden_states"]
    assert out.logits.shape == (3, 2, 7, 99) and out.mc_logits.shape == (3, 2) and out.loss.shape == (3,)
    np.testing.assert_allclose(out.logits, pt.logits.numpy(), atol=1e-5, rtol=0)
    np.testing.assert_allclose(out.mc_logits, pt.mc_logits.numpy(), atol=1e-5, rtol=0)
    # One loss per example, whose mean is PyTorch's LM loss plus its multiple-choice loss.
    np.testing.assert_allclose(np.mean(out.loss), (pt.loss + pt.mc_loss).numpy(), atol=1e-5, rtol=0)
    # As the reference: the decoder's hidden states per flattened choice, the last one per choice.
    assert [tuple(h.shape) for h in out.hidden_states] == [(6, 7, 32), (6, 7, 32), (3, 2, 7, 32)]
    for ours, theirs in zip(out.hidden_states, pt.hidden_states, strict=True):
        np.testing.assert_allclose(ours, theirs.numpy(), atol=1e-5, rtol=0)
    assert len(out.past_key_values) == 2 and out.past_key_values[0].shape == (2, 6, 4, 7, 8)


def test_each_loss_alone_matches_pytorch(pair):
    pt_model, model = pair
    batch = _batch()
    inputs = {k: v for k, v in batch.items() if k not in ("labels", "mc_labels")}
    with torch.no_grad():
        pt = pt_model(**{k: _long(v) for k, v in batch.items()})
    lm_only = model({**inputs, "labels": batch["labels"]}).loss
    mc_only = model({**inputs, "mc_labels": batch["mc_labels"]}).loss
    np.testing.assert_allclose(np.mean(lm_only), pt.loss.numpy(), atol=1e-5, rtol=0)
    np.testing.assert_allclose(np.mean(mc_only), pt.mc_loss.numpy(), atol=1e-5, rtol=0)
    assert "loss" not in model(inputs)


def test_one_choice_per_row_as_the_reference(pair):
    """`[batch, seq]` ids with `mc_token_ids` `[batch]`, as the reference also accepts: `[batch, seq, vocab]`
    logits, `[batch]` scores, each row's LM loss."""
    pt_model, model = pair
    batch = _batch()
    rows = {name: batch[name][:, 0] for name in ("input_ids", "attention_mask", "token_type_ids", "mc_token_ids",
                                                 "labels")}
    with torch.no_grad():
        pt = pt_model(**{k: _long(v) for k, v in rows.items()})
    out = model(rows)
    assert out.logits.shape == (3, 7, 99) and out.mc_logits.shape == (3,) and out.loss.shape == (3,)
    np.testing.assert_allclose(out.logits, pt.logits.numpy(), atol=1e-5, rtol=0)
    np.testing.assert_allclose(out.mc_logits, pt.mc_logits.numpy(), atol=1e-5, rtol=0)
    # One loss per row, whose mean is the reference's loss over all rows' tokens (row 1 has padding).
    np.testing.assert_allclose(np.mean(out.loss), pt.loss.numpy(), atol=1e-5, rtol=0)
    # Positional, in the reference's order: input_ids, past_key_values, attention_mask, token_type_ids,
    # position_ids, head_mask, inputs_embeds, mc_token_ids.
    positional = model(rows["input_ids"], None, rows["attention_mask"], rows["token_type_ids"], None, None, None,
                       rows["mc_token_ids"])
    np.testing.assert_array_equal(positional.mc_logits, out.mc_logits)
    with pytest.raises(ValueError, match=r"mc_labels score one choice among several"):
        model({**rows, "mc_labels": np.zeros(3, np.int32)})


def test_without_mc_token_ids_the_last_token_is_scored(pair):
    pt_model, model = pair
    ids = _batch()["input_ids"]
    with torch.no_grad():
        pt_logits = pt_model(input_ids=_long(ids)).mc_logits.numpy()
    np.testing.assert_allclose(model({"input_ids": ids}).mc_logits, pt_logits, atol=1e-5, rtol=0)
    at_last = model({"input_ids": ids, "mc_token_ids": np.full((3, 2), 6, np.int32)}).mc_logits
    np.testing.assert_array_equal(model({"input_ids": ids}).mc_logits, at_last)


def test_inputs_embeds_equal_input_ids(pair):
    _, model = pair
    batch = _batch()
    embeds = model.get_input_embeddings()(batch["input_ids"])
    with_ids = model(batch)
    with_embeds = model({**{k: v for k, v in batch.items() if k != "input_ids"}, "inputs_embeds": embeds})
    for name in ("logits", "mc_logits", "loss"):
        np.testing.assert_allclose(with_embeds[name], with_ids[name], atol=1e-6, rtol=0)


@pytest.mark.parametrize("overrides", [
    {"summary_type": "mean", "summary_activation": "tanh"},
    {"summary_type": "first"},
    {"summary_type": "last", "summary_proj_to_labels": False},
    {"summary_use_proj": False},
])
def test_summary_variants_match_pytorch(overrides, tmp_path):
    pt_model = _save_pytorch(tmp_path, **overrides)
    model, info = tfmodels.TFGPT2DoubleHeadsModel.from_pretrained(tmp_path, output_loading_info=True)
    assert info == {"missing_keys": [], "unexpected_keys": [], "mismatched_keys": []}
    batch = _batch()
    with torch.no_grad():
        expected = pt_model(input_ids=_long(batch["input_ids"]), mc_token_ids=_long(batch["mc_token_ids"])).mc_logits
    out = model({"input_ids": batch["input_ids"], "mc_token_ids": batch["mc_token_ids"]})
    # As the reference, `last`, `first` and `mean` read the choices axis: [3, 7] (one label), [3, 7, 32] (hidden).
    assert out.mc_logits.shape == tuple(expected.shape)
    np.testing.assert_allclose(out.mc_logits, expected.numpy(), atol=1e-5, rtol=0)


def test_weight_names_are_the_reference_and_saved_files_reload(pair, tmp_path):
    _, model = pair
    transformer = [name.replace("tfgpt2lm_head_model/", f"{NAME}/")
                   for name in Case("gpt2_lm").meta["tf_weight_names"]]  # a 2-layer reference GPT-2
    expected = transformer + [f"{NAME}/multiple_choice_head/summary/kernel:0",
                              f"{NAME}/multiple_choice_head/summary/bias:0"]
    assert [w.path + ":0" for w in model.weights] == expected
    batch = _batch()
    model.save_pretrained(tmp_path / "h5")
    with h5py.File(tmp_path / "h5" / "tf_model.h5", "r") as handle:
        saved = [name for layer in load_attributes(handle, "layer_names")
                 for name in load_attributes(handle[layer], "weight_names")]
    assert list(dict.fromkeys(saved)) == expected
    model.save_pretrained(tmp_path / "safetensors", safe_serialization=True, weight_names="tf")
    header, metadata, _ = read_header(str(tmp_path / "safetensors" / "model.safetensors"))
    assert metadata == {"format": "tf"} and sorted(header) == sorted(n.split("/", 1)[1] for n in expected)
    for layout in ("h5", "safetensors"):
        reloaded, info = tfmodels.TFGPT2DoubleHeadsModel.from_pretrained(tmp_path / layout, output_loading_info=True)
        assert info == {"missing_keys": [], "unexpected_keys": [], "mismatched_keys": []}
        np.testing.assert_array_equal(reloaded(batch).mc_logits, model(batch).mc_logits)


def test_lm_checkpoint_loads_without_the_choice_head_and_back(pair, tmp_path):
    case = Case("gpt2_lm")
    model, info = tfmodels.TFGPT2DoubleHeadsModel.from_pretrained(case.path("pt_safetensors"),
                                                                  output_loading_info=True)
    assert info == {"missing_keys": ["multiple_choice_head/summary/kernel", "multiple_choice_head/summary/bias"],
                    "unexpected_keys": [], "mismatched_keys": []}
    lm = tfmodels.TFGPT2LMHeadModel.from_pretrained(case.path("pt_safetensors"))
    ids = case.inputs["input_ids"]
    np.testing.assert_allclose(model({"input_ids": ids[:, None, :]}).logits[:, 0], lm({"input_ids": ids}).logits,
                               atol=1e-6, rtol=0)
    pair[1].save_pretrained(tmp_path)
    _, info = tfmodels.TFGPT2LMHeadModel.from_pretrained(tmp_path, output_loading_info=True)
    assert info == {"missing_keys": [], "mismatched_keys": [],  # a fine-tuned head is reported, as the reference does
                    "unexpected_keys": ["multiple_choice_head/summary/kernel", "multiple_choice_head/summary/bias"]}


def test_serving_inputs_and_errors(pair):
    _, model = pair
    assert {name: spec.shape.as_list() for name, spec in model.input_signature.items()} == {
        "input_ids": [None, None, None], "attention_mask": [None, None, None], "mc_token_ids": [None, None]}
    served = model.serving(model.dummy_inputs)
    assert served["logits"].shape == (1, 2, 2, 99) and served["mc_logits"].shape == (1, 2)
    assert not model.can_generate() and model.get_output_embeddings() is model.transformer.wte
    assert model.multiple_choice_head.summary.kernel.shape == (32, 1)  # the reference's attribute names
    with pytest.raises(tfmodels.ConfigError, match="summary_type='attn' is not supported"):
        tfmodels.TFGPT2DoubleHeadsModel(tfmodels.GPT2Config(**GPT2, summary_type="attn"))
