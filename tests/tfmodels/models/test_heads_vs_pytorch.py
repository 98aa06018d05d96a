"""Heads without a reference fixture, checked against transformers' PyTorch models on random weights."""

import numpy as np
import pytest

import tfmodels
from tests.helpers import random_ids_and_mask

import torch
import transformers

pytestmark = pytest.mark.slow

BERT = dict(vocab_size=99, hidden_size=32, num_hidden_layers=2, num_attention_heads=4, intermediate_size=37,
            max_position_embeddings=64)
GPT2 = dict(vocab_size=99, n_embd=32, n_layer=2, n_head=4, n_positions=64, pad_token_id=98)


CASES = {
    "TFBertForPreTraining": ("BertConfig", BERT, ["prediction_logits", "seq_relationship_logits"],
                             lambda rng: {"labels": np.where(rng.random((3, 11)) < 0.5, -100, rng.integers(0, 99, (3, 11))),
                                          "next_sentence_label": np.array([0, 1, 0])}),
    "TFBertForNextSentencePrediction": ("BertConfig", BERT, ["logits"],
                                        lambda rng: {"next_sentence_label": np.array([1, 0, 1])}),
    "TFBertForMultipleChoice": ("BertConfig", BERT, ["logits"], lambda rng: {"labels": np.array([2, 0, 1])}),
    "TFGPT2ForSequenceClassification": ("GPT2Config", {**GPT2, "num_labels": 3}, ["logits"],
                                        lambda rng: {"labels": np.array([2, 0, 1])}),
}


@pytest.mark.parametrize("tf_class", sorted(CASES))
@pytest.mark.parametrize("safe", [True, False])
def test_head_matches_pytorch(tf_class, safe, tmp_path):
    config_name, config_kwargs, outputs, make_labels = CASES[tf_class]
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    pt_config = getattr(transformers, config_name)(**config_kwargs)
    pt_model = getattr(transformers, tf_class[2:])(pt_config).eval()
    pt_model.save_pretrained(tmp_path, safe_serialization=safe)
    shape = (3, 4, 11) if "MultipleChoice" in tf_class else (3, 11)
    ids, mask = random_ids_and_mask(shape, rng)
    if "GPT2" in tf_class:
        ids[1, -3:] = 98  # right padding, scored at the last real token
    labels = make_labels(rng)
    pt_labels = {k: torch.tensor(v, dtype=torch.long) for k, v in labels.items()}
    if tf_class == "TFBertForNextSentencePrediction":  # PyTorch calls this head's labels `labels`
        pt_labels = {"labels": pt_labels["next_sentence_label"]}
    with torch.no_grad():
        pt_out = pt_model(input_ids=torch.tensor(ids, dtype=torch.long), attention_mask=torch.tensor(mask),
                          **pt_labels)
    model, info = getattr(tfmodels, tf_class).from_pretrained(tmp_path, output_loading_info=True)
    assert info["missing_keys"] == [] and info["mismatched_keys"] == []
    out = model({"input_ids": ids, "attention_mask": mask, **labels})
    for name in outputs:
        np.testing.assert_allclose(out[name], getattr(pt_out, name).numpy(), atol=1e-5, rtol=0)
    np.testing.assert_allclose(np.mean(out["loss"]), pt_out.loss.numpy(), atol=1e-5, rtol=0)


def test_sequence_classification_problem_types_match_pytorch(tmp_path):
    rng = np.random.default_rng(1)
    ids, mask = random_ids_and_mask((4, 9), rng)
    labels = {
        "regression": (1, rng.normal(size=(4,)).astype(np.float32)),
        "multi_label_classification": (3, rng.integers(0, 2, (4, 3)).astype(np.float32)),
        "single_label_classification": (3, np.array([0, -100, 2, 1])),
    }
    for problem_type, (num_labels, y) in labels.items():
        torch.manual_seed(0)
        pt_config = transformers.BertConfig(**BERT, num_labels=num_labels, problem_type=problem_type)
        pt_model = transformers.BertForSequenceClassification(pt_config).eval()
        directory = tmp_path / problem_type
        pt_model.save_pretrained(directory)
        with torch.no_grad():
            pt_loss = pt_model(input_ids=torch.tensor(ids, dtype=torch.long), attention_mask=torch.tensor(mask),
                               labels=torch.tensor(y)).loss.numpy()
        model = tfmodels.TFBertForSequenceClassification.from_pretrained(directory)
        loss = model({"input_ids": ids, "attention_mask": mask, "labels": y}).loss
        assert loss.shape == (4,)
        np.testing.assert_allclose(np.mean(loss), pt_loss, atol=1e-5, rtol=0, err_msg=problem_type)
        if problem_type == "single_label_classification":
            assert float(loss[1]) == 0.0  # the -100 example contributes nothing
