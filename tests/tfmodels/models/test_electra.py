"""ELECTRA: the reference fixtures in every layout, the reference's weight names, and the classes without a fixture
against transformers' PyTorch models (with `embedding_size != hidden_size`, so through `embeddings_project`)."""

import numpy as np
import pytest
import torch
import transformers

import tfmodels
from tests.helpers import Case, assert_matches_pytorch_model, random_ids_and_mask
from tfmodels.errors import ConfigError

PROJECTED = dict(vocab_size=99, embedding_size=16, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                 intermediate_size=37, max_position_embeddings=64)


def test_auto_classes_pick_electra():
    case = Case("electra_pretraining")
    assert type(tfmodels.TFAutoModelForPreTraining.from_pretrained(case.path("tf_h5"))).__name__ == \
        "TFElectraForPreTraining"
    assert type(tfmodels.TFAutoModel.from_pretrained(case.path("pt_bin"))).__name__ == "TFElectraModel"


# class: (config overrides, outputs compared, labels, PyTorch checkpoint in safetensors)
PYTORCH_CASES = {
    "TFElectraModel": ({}, ["last_hidden_state"], lambda rng: {}, True),
    "TFElectraForMaskedLM": ({}, ["logits"], lambda rng: {
        "labels": np.where(rng.random((3, 11)) < 0.5, -100, rng.integers(0, 99, (3, 11)))}, False),
    "TFElectraForSequenceClassification": ({"num_labels": 3}, ["logits"],
                                           lambda rng: {"labels": np.array([2, 0, 1])}, True),
    "TFElectraForMultipleChoice": ({}, ["logits"], lambda rng: {"labels": np.array([3, 0, 1])}, False),
    "TFElectraForQuestionAnswering": ({}, ["start_logits", "end_logits"], lambda rng: {
        "start_positions": np.array([1, 4, 20]), "end_positions": np.array([2, 7, 0])}, True),
}


@pytest.mark.slow
@pytest.mark.parametrize("tf_class", sorted(PYTORCH_CASES))
def test_class_matches_pytorch(tf_class, tmp_path):
    overrides, outputs, make_labels, safe = PYTORCH_CASES[tf_class]
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    pt_model = getattr(transformers, tf_class[2:])(transformers.ElectraConfig(**PROJECTED, **overrides)).eval()
    pt_model.save_pretrained(tmp_path, safe_serialization=safe)
    ids, mask = random_ids_and_mask((3, 4, 11) if "MultipleChoice" in tf_class else (3, 11), rng)
    model = assert_matches_pytorch_model(tf_class, pt_model, tmp_path, ids, mask, make_labels(rng), outputs)
    assert model.electra.projection is not None and model.electra.projection.kernel.shape == (16, 32)


def test_masked_lm_decoder_is_tied_to_word_embeddings():
    model = tfmodels.TFElectraForMaskedLM(tfmodels.ElectraConfig(**PROJECTED))
    assert model.get_output_embeddings() is model.electra.embeddings.word_embeddings
    head = [w.path.split("/", 1)[1] for w in model.weights if w.path.split("/")[1] != "electra"]
    assert head == ["generator_predictions/LayerNorm/gamma", "generator_predictions/LayerNorm/beta",
                    "generator_predictions/dense/kernel", "generator_predictions/dense/bias",
                    "generator_lm_head/bias"]  # the reference's order


def test_projection_only_when_sizes_differ():
    same = tfmodels.TFElectraModel(tfmodels.ElectraConfig(**{**PROJECTED, "embedding_size": 32}))
    assert same.electra.projection is None
    assert not any("embeddings_project" in w.path for w in same.weights)


def test_no_summary_activation_means_linear():
    config = tfmodels.ElectraConfig(**PROJECTED, summary_activation=None)
    model = tfmodels.TFElectraForMultipleChoice(config)
    ids = np.arange(24, dtype=np.int32).reshape(2, 3, 4) % 50 + 1
    first = model.electra(input_ids=ids.reshape(6, 4))["last_hidden_state"][:, 0]
    summary = model.classifier_head.pre_classifier(first)  # no activation between summary and classifier
    expected = model.classifier_head.classifier(summary).numpy().reshape(2, 3)
    np.testing.assert_allclose(model({"input_ids": ids}).logits, expected, atol=1e-6)


@pytest.mark.parametrize(("field", "value"), [("summary_type", "mean"), ("summary_use_proj", False)])
def test_unsupported_sequence_summary_is_refused(field, value):
    with pytest.raises(ConfigError, match=f"{field}"):
        tfmodels.TFElectraForMultipleChoice(tfmodels.ElectraConfig(**PROJECTED, **{field: value}))
