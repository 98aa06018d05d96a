"""TFBertLMHeadModel (BERT with `is_decoder=True`) against transformers' PyTorch BertLMHeadModel on the same random
weights: with and without cross-attention, cached decoding, and greedy `generate()`."""

import numpy as np
import pytest
import torch
import transformers

import tfmodels

BERT = dict(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
            max_position_embeddings=64, is_decoder=True)


def _long(array) -> torch.Tensor:
    return torch.tensor(np.asarray(array), dtype=torch.long)


def _pair(directory, cross_attention: bool):
    torch.manual_seed(0)
    pt_model = transformers.BertLMHeadModel(transformers.BertConfig(**BERT, add_cross_attention=cross_attention))
    pt_model.eval().save_pretrained(directory)
    model, info = tfmodels.TFBertLMHeadModel.from_pretrained(directory, output_loading_info=True)
    assert info == {"missing_keys": [], "unexpected_keys": [], "mismatched_keys": []}
    return pt_model, model


@pytest.fixture(scope="module", params=[False, True], ids=["decoder", "cross_attention"])
def case(request, tmp_path_factory):
    """(PyTorch model, our model, inputs): left padding in the second row; with cross-attention, encoder states
    whose mask hides the last two of the third row."""
    pt_model, model = _pair(tmp_path_factory.mktemp("bert_decoder"), request.param)
    rng = np.random.default_rng(0)
    ids = rng.integers(1, 98, (3, 9)).astype(np.int32)
    mask = np.ones_like(ids)
    mask[1, :2] = 0
    inputs = {"input_ids": ids, "attention_mask": mask}
    if request.param:
        encoder_mask = np.ones((3, 5), np.int32)
        encoder_mask[2, -2:] = 0
        inputs.update(encoder_hidden_states=rng.normal(size=(3, 5, 32)).astype(np.float32),
                      encoder_attention_mask=encoder_mask)
    return pt_model, model, inputs


def _torch_inputs(inputs: dict) -> dict:
    return {k: torch.tensor(v) if v.dtype == np.float32 else _long(v) for k, v in inputs.items()}


def test_logits_and_loss_match_pytorch(case):
    pt_model, model, inputs = case
    mask = inputs["attention_mask"]
    # A left-padding query sees no real key: what it attends to is arbitrary (PyTorch's SDPA gives it zeros, the
    # reference TF model every key), so neither its logits nor the label it predicts are compared.
    labels = np.where(mask == 1, inputs["input_ids"], -100).astype(np.int32)
    labels[:, 1:][mask[:, :-1] == 0] = -100
    with torch.no_grad():
        pt = pt_model(**_torch_inputs(inputs), labels=_long(labels))
    out = model({**inputs, "labels": labels})
    assert out.loss.shape == (3,) and out.logits.shape == (3, 9, 99)
    real = mask == 1
    np.testing.assert_allclose(out.logits.numpy()[real], pt.logits.numpy()[real], atol=1e-5, rtol=0)
    np.testing.assert_allclose(np.mean(out.loss), pt.loss.numpy(), atol=1e-5, rtol=0)


def test_cached_decoding_equals_the_full_pass(case):
    _, model, inputs = case
    full = model(inputs).logits.numpy()
    ids, mask, prompt = inputs["input_ids"], inputs["attention_mask"], 4
    encoder = {k: v for k, v in inputs.items() if k.startswith("encoder_")}
    out = model({"input_ids": ids[:, :prompt], "attention_mask": mask[:, :prompt], **encoder}, use_cache=True)
    assert len(out.past_key_values) == 2 and out.past_key_values[0].shape == (2, 3, 4, prompt, 8)
    steps = [out.logits.numpy()]
    for i in range(prompt, ids.shape[1]):
        out = model({"input_ids": ids[:, i:i + 1], "attention_mask": mask[:, :i + 1], **encoder},
                    past_key_values=out.past_key_values, use_cache=True)
        steps.append(out.logits.numpy())
    assert out.past_key_values[0].shape == (2, 3, 4, ids.shape[1], 8)
    # Padding positions attend to nothing real, so their logits depend on what they can see; every other matches.
    real = mask == 1
    np.testing.assert_allclose(np.concatenate(steps, axis=1)[real], full[real], atol=1e-5, rtol=0)


def test_generate_greedy_equals_pytorch(tmp_path):
    pt_model, model = _pair(tmp_path, cross_attention=False)
    rng = np.random.default_rng(1)
    prompt = rng.integers(1, 98, (3, 5)).astype(np.int32)
    mask = np.ones_like(prompt)
    prompt[1, :2], mask[1, :2] = 0, 0  # left padding
    with torch.no_grad():
        expected = pt_model.generate(_long(prompt), attention_mask=_long(mask), max_new_tokens=6, do_sample=False)
    assert model.can_generate()
    for jit_compile in (False, True):
        ours = model.generate(prompt, attention_mask=mask, max_new_tokens=6, jit_compile=jit_compile)
        np.testing.assert_array_equal(np.asarray(ours), expected.numpy())
