"""DistilBERT on the kit: the reference fixtures, the reference's weight names, the classes without a fixture
against transformers' PyTorch models, sinusoidal positions, the inputs (no token types) and the config."""

import json

import numpy as np
import pytest

import tfmodels
from keras_integration.training import call_argument_names
from tests.helpers import Case, assert_matches_pytorch_model, assert_matches_reference, random_ids_and_mask, run

import torch
import transformers

TINY = dict(vocab_size=99, dim=32, n_layers=2, n_heads=4, hidden_dim=37, max_position_embeddings=64)


# class -> (config overrides, outputs compared, labels, written as a transformers 4.x `.bin`)
PYTORCH_CASES = {
    "TFDistilBertModel": ({}, ["last_hidden_state"], lambda rng: {}, False),
    "TFDistilBertForMaskedLM": ({}, ["logits"], lambda rng: {
        "labels": np.where(rng.random((3, 11)) < 0.5, -100, rng.integers(0, 99, (3, 11)))}, True),
    "TFDistilBertForTokenClassification": ({"num_labels": 5}, ["logits"], lambda rng: {
        "labels": np.where(rng.random((3, 11)) < 0.2, -100, rng.integers(0, 5, (3, 11)))}, False),
    "TFDistilBertForMultipleChoice": ({}, ["logits"], lambda rng: {"labels": np.array([2, 0, 1])}, False),
}


def _save_legacy_bin(pt_model, directory) -> None:
    """A `pytorch_model.bin` as older transformers wrote it: the whole state dict, with the tied decoder matrix
    (`vocab_projector.weight`) and the `position_ids` buffer."""
    state = dict(pt_model.state_dict())
    assert "vocab_projector.weight" in state
    state["distilbert.embeddings.position_ids"] = torch.arange(64)[None]
    pt_model.config.save_pretrained(directory)
    torch.save(state, directory / "pytorch_model.bin")


@pytest.mark.slow
@pytest.mark.parametrize("tf_class", sorted(PYTORCH_CASES))
def test_class_without_fixture_matches_pytorch(tf_class, tmp_path):
    overrides, outputs, make_labels, legacy_bin = PYTORCH_CASES[tf_class]
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    pt_model = getattr(transformers, tf_class[2:])(transformers.DistilBertConfig(**TINY, **overrides)).eval()
    if legacy_bin:
        _save_legacy_bin(pt_model, tmp_path)
    else:
        pt_model.save_pretrained(tmp_path)
    ids, mask = random_ids_and_mask((3, 4, 11) if "MultipleChoice" in tf_class else (3, 11), rng)
    assert_matches_pytorch_model(tf_class, pt_model, tmp_path, ids, mask, make_labels(rng), outputs)


def test_base_model_outputs_have_no_pooler():
    case = Case("distilbert_seqcls")
    model, info = tfmodels.TFDistilBertModel.from_pretrained(case.path("tf_h5"), output_loading_info=True)
    # As the reference: the fine-tuned head is reported, nothing else.
    assert info == {"missing_keys": [], "mismatched_keys": [], "unexpected_keys": [
        "pre_classifier/kernel", "pre_classifier/bias", "classifier/kernel", "classifier/bias"]}
    out = model(case.inputs, output_hidden_states=True)
    assert type(out).__name__ == "TFBaseModelOutput"
    assert list(out) == ["last_hidden_state", "hidden_states"]
    assert [w.path.split("/", 1)[1] for w in model.weights] == [
        name.split("/", 1)[1][:-2] for name in case.meta["tf_weight_names"] if "/distilbert/" in name]
    np.testing.assert_allclose(np.stack(out["hidden_states"]), case.reference["hidden_states"], atol=1e-5, rtol=0)


def test_masked_lm_projection_is_tied_and_its_bias_follows_the_transform():
    model = tfmodels.TFDistilBertForMaskedLM(tfmodels.DistilBertConfig(**TINY))
    assert model.get_output_embeddings() is model.get_input_embeddings()
    assert [w.path for w in model.weights][-5:] == [
        "tf_distil_bert_for_masked_lm/vocab_transform/kernel", "tf_distil_bert_for_masked_lm/vocab_transform/bias",
        "tf_distil_bert_for_masked_lm/vocab_layer_norm/gamma", "tf_distil_bert_for_masked_lm/vocab_layer_norm/beta",
        "tf_distil_bert_for_masked_lm/vocab_projector/bias"]
    assert model.get_bias()["bias"].path == "tf_distil_bert_for_masked_lm/vocab_projector/bias"


@pytest.mark.slow
def test_sinusoidal_positions_are_fixed_in_a_fresh_model_and_loaded_from_a_checkpoint(tmp_path):
    config = dict(TINY, sinusoidal_pos_embds=True)
    torch.manual_seed(0)
    pt_model = transformers.DistilBertModel(transformers.DistilBertConfig(**config)).eval()
    table = pt_model.embeddings.position_embeddings.weight.detach().numpy()
    assert np.abs(table[1:, 0]).max() > 0.5  # the sinusoid (sin of the position), not a small random draw

    fresh = tfmodels.TFDistilBertModel(tfmodels.DistilBertConfig(**config))
    position_table = fresh.distilbert.embeddings.position_embeddings.embeddings
    np.testing.assert_allclose(position_table.numpy(), table, atol=1e-6, rtol=0)
    assert not position_table.trainable
    assert id(position_table) not in {id(w) for w in fresh.trainable_weights}

    with torch.no_grad():  # a checkpoint whose table is not the sinusoid: loading must keep its values
        pt_model.embeddings.position_embeddings.weight.copy_(torch.randn(64, 32) * 0.5)
    pt_model.save_pretrained(tmp_path)
    ids, mask = random_ids_and_mask((3, 11), np.random.default_rng(1))
    with torch.no_grad():
        expected = pt_model(input_ids=torch.tensor(ids, dtype=torch.long), attention_mask=torch.tensor(mask))
    loaded = tfmodels.TFDistilBertModel.from_pretrained(tmp_path)
    np.testing.assert_array_equal(loaded.distilbert.embeddings.position_embeddings.embeddings.numpy(),
                                  pt_model.embeddings.position_embeddings.weight.detach().numpy())
    out = loaded({"input_ids": ids, "attention_mask": mask})
    np.testing.assert_allclose(out["last_hidden_state"], expected.last_hidden_state.numpy(), atol=1e-5, rtol=0)


def test_inputs_have_no_token_types_or_positions():
    config = tfmodels.DistilBertConfig(**TINY)
    model = tfmodels.TFDistilBertForSequenceClassification(config)
    assert call_argument_names(model) == ["input_ids", "attention_mask", "head_mask", "inputs_embeds",
                                          "output_attentions", "output_hidden_states", "return_dict", "labels",
                                          "training"]
    assert {name: spec.shape.as_list() for name, spec in model.input_signature.items()} == {
        "input_ids": [None, None], "attention_mask": [None, None]}
    choice = tfmodels.TFDistilBertForMultipleChoice(config)
    assert {name: spec.shape.as_list() for name, spec in choice.input_signature.items()} == {
        "input_ids": [None, None, None], "attention_mask": [None, None, None]}
    assert sorted(model.dummy_inputs) == ["attention_mask", "input_ids"]


def test_config_defaults_and_aliases_match_transformers(tmp_path):
    ours, theirs = tfmodels.DistilBertConfig(), transformers.DistilBertConfig()
    for field in ("vocab_size", "max_position_embeddings", "sinusoidal_pos_embds", "n_layers", "n_heads", "dim",
                  "hidden_dim", "dropout", "attention_dropout", "activation", "initializer_range", "qa_dropout",
                  "seq_classif_dropout", "pad_token_id", "hidden_size", "num_attention_heads", "num_hidden_layers"):
        assert getattr(ours, field) == getattr(theirs, field), field
    config = tfmodels.DistilBertConfig(hidden_size=64, num_attention_heads=2, num_hidden_layers=3)
    assert (config.dim, config.n_heads, config.n_layers) == (64, 2, 3)
    config.save_pretrained(tmp_path)
    saved = json.loads((tmp_path / "config.json").read_text())
    assert (saved["model_type"], saved["dim"], saved["n_heads"], saved["n_layers"]) == ("distilbert", 64, 2, 3)
    assert "hidden_size" not in saved
    assert transformers.DistilBertConfig.from_pretrained(tmp_path).dim == 64


@pytest.mark.parametrize(("auto", "expected"), [
    ("TFAutoModel", "TFDistilBertModel"),
    ("TFAutoModelForPreTraining", "TFDistilBertForMaskedLM"),
    ("TFAutoModelForMaskedLM", "TFDistilBertForMaskedLM"),
    ("TFAutoModelForSequenceClassification", "TFDistilBertForSequenceClassification"),
    ("TFAutoModelForTokenClassification", "TFDistilBertForTokenClassification"),
    ("TFAutoModelForQuestionAnswering", "TFDistilBertForQuestionAnswering"),
    ("TFAutoModelForMultipleChoice", "TFDistilBertForMultipleChoice"),
])
def test_auto_classes_map_distilbert_as_the_reference(auto, expected):
    assert getattr(tfmodels, auto).mapping()["distilbert"] == expected


def test_auto_model_loads_the_fixture():
    case = Case("distilbert_qa")
    model = tfmodels.TFAutoModelForQuestionAnswering.from_pretrained(case.path("pt_safetensors"))
    assert type(model).__name__ == "TFDistilBertForQuestionAnswering"
    assert_matches_reference(case, run(model, case))
    with pytest.raises(tfmodels.ConfigError, match="TFAutoModelForCausalLM has no model for model_type 'distilbert'"):
        tfmodels.TFAutoModelForCausalLM.from_pretrained(case.path("pt_safetensors"))
