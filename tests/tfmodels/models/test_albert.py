"""ALBERT: the reference fixtures, the reference's weight names, and every class without a fixture against
transformers' PyTorch model built from the same config with random weights."""

import numpy as np
import pytest
import torch
import transformers

import tfmodels
from tests.helpers import Case, run
from tfmodels.errors import ConfigError
from tfmodels.models.albert.modeling_albert import albert_layer_plan

# 3 layer applications over 2 groups of 2 shared layers: steps 0 and 1 apply group 0, step 2 group 1.
SHARED = dict(vocab_size=99, embedding_size=16, hidden_size=32, num_hidden_layers=3, num_hidden_groups=2,
              inner_group_num=2, num_attention_heads=4, intermediate_size=37, max_position_embeddings=64)


def test_shared_layers_are_placed_by_group_and_scheduled_as_the_reference():
    paths, schedule, head_mask_rows = albert_layer_plan(tfmodels.AlbertConfig(**SHARED))
    assert paths == ["albert_layer_groups_._0/albert_layers_._0", "albert_layer_groups_._0/albert_layers_._1",
                     "albert_layer_groups_._1/albert_layers_._0", "albert_layer_groups_._1/albert_layers_._1"]
    assert schedule == [[0, 1], [0, 1], [2, 3]]
    assert head_mask_rows == [0, 1, 1, 2]  # the reference: group * int(3 / 2) + inner index
    model = tfmodels.TFAlbertModel(tfmodels.AlbertConfig(**SHARED))
    kernels = [w.path for w in model.weights if w.path.endswith("attention/query/kernel")]
    assert kernels == [f"tf_albert_model/albert/encoder/{path}/attention/query/kernel" for path in paths]


def _labels(tf_class, rng):
    if tf_class == "TFAlbertForPreTraining":
        return {"labels": np.where(rng.random((3, 11)) < 0.5, -100, rng.integers(0, 99, (3, 11))),
                "sentence_order_label": np.array([0, 1, 1])}
    if tf_class in ("TFAlbertForMaskedLM", "TFAlbertForTokenClassification"):
        classes = 99 if tf_class == "TFAlbertForMaskedLM" else 3
        return {"labels": np.where(rng.random((3, 11)) < 0.3, -100, rng.integers(0, classes, (3, 11)))}
    if tf_class == "TFAlbertForQuestionAnswering":
        return {"start_positions": np.array([1, 4, 9]), "end_positions": np.array([2, 7, 10])}
    if tf_class == "TFAlbertForMultipleChoice":
        return {"labels": np.array([2, 0, 1])}
    return {}


PYTORCH_OUTPUTS = {
    "TFAlbertModel": ["last_hidden_state", "pooler_output"],
    "TFAlbertForPreTraining": ["prediction_logits", "sop_logits"],
    "TFAlbertForMaskedLM": ["logits"],  # a PyTorch save without the tied `predictions.decoder.bias`
    "TFAlbertForTokenClassification": ["logits"],
    "TFAlbertForQuestionAnswering": ["start_logits", "end_logits"],
    "TFAlbertForMultipleChoice": ["logits"],
}


@pytest.mark.parametrize("tf_class", sorted(PYTORCH_OUTPUTS))
def test_class_matches_pytorch_with_shared_layers(tf_class, tmp_path):
    rng = np.random.default_rng(0)
    torch.manual_seed(0)
    pt_model = getattr(transformers, tf_class[2:])(transformers.AlbertConfig(**SHARED, num_labels=3)
                                                   if tf_class == "TFAlbertForTokenClassification"
                                                   else transformers.AlbertConfig(**SHARED)).eval()
    pt_model.save_pretrained(tmp_path)
    shape = (3, 4, 11) if tf_class.endswith("MultipleChoice") else (3, 11)
    ids = rng.integers(1, 98, size=shape).astype(np.int32)
    mask = np.ones(shape, np.int32)
    mask[1:, ..., -3:] = 0
    types = np.zeros(shape, np.int32)
    types[..., 6:] = 1
    labels = _labels(tf_class, rng)
    with torch.no_grad():
        pt_out = pt_model(input_ids=torch.tensor(ids, dtype=torch.long), attention_mask=torch.tensor(mask),
                          token_type_ids=torch.tensor(types, dtype=torch.long), output_hidden_states=True,
                          **{k: torch.tensor(v, dtype=torch.long) for k, v in labels.items()})
    model, info = getattr(tfmodels, tf_class).from_pretrained(tmp_path, output_loading_info=True)
    assert info == {"missing_keys": [], "unexpected_keys": [], "mismatched_keys": []}
    out = model({"input_ids": ids, "attention_mask": mask, "token_type_ids": types, **labels},
                output_hidden_states=True)
    for name in PYTORCH_OUTPUTS[tf_class]:
        np.testing.assert_allclose(out[name], getattr(pt_out, name).numpy(), atol=1e-5, rtol=0, err_msg=name)
    # One hidden state per layer application, as the TF reference reports (PyTorch reports one per inner layer).
    inner = SHARED["inner_group_num"]
    assert len(out.hidden_states) == SHARED["num_hidden_layers"] + 1
    for step, hidden in enumerate(out.hidden_states):
        np.testing.assert_allclose(hidden, pt_out.hidden_states[step * inner].numpy(), atol=1e-5, rtol=0)
    if labels:
        np.testing.assert_allclose(np.mean(out.loss), pt_out.loss.numpy(), atol=1e-5, rtol=0)


def test_pruning_a_shared_layer_equals_masking_its_head_mask_row():
    """As the reference, a shared layer reads the head-mask row of its own index (here row 0 at both steps)."""
    case = Case("albert_seqcls")
    model = case.model_class.from_pretrained(case.path("tf_h5"))
    head_mask = np.ones((2, 4), np.float32)  # rows for 2 steps; the one shared layer reads row 0
    head_mask[0, [1, 3]] = 0
    masked = model(case.inputs, head_mask=head_mask).logits.numpy()
    row_1_only = np.ones((2, 4), np.float32)
    row_1_only[1, [1, 3]] = 0
    np.testing.assert_allclose(model(case.inputs, head_mask=row_1_only).logits, case.reference["logits"], atol=1e-5)
    assert not np.allclose(masked, case.reference["logits"], atol=1e-3)
    model.prune_heads({0: [1, 3]})
    attention = model.albert.encoder.layer[0].attention
    assert attention.query.kernel.shape == (32, 16) and attention.output_projection.kernel.shape == (16, 32)
    assert model.config.pruned_heads == {0: [1, 3]}
    np.testing.assert_allclose(model(case.inputs).logits, masked, atol=1e-6, rtol=0)
    with pytest.raises(ValueError, match="Cannot prune heads of layer 1: the model has 1 layers"):
        model.prune_heads({1: [0]})


def test_config_defaults_and_errors():
    config = tfmodels.AlbertConfig()
    assert (config.hidden_act, config.embedding_size, config.hidden_size, config.num_hidden_groups,
            config.inner_group_num, config.classifier_dropout_prob, config.bos_token_id, config.eos_token_id) == (
        "gelu_new", 128, 4096, 1, 1, 0.1, 2, 3)
    with pytest.raises(ConfigError, match="num_hidden_groups must be a positive integer; received 0"):
        tfmodels.AlbertConfig(num_hidden_groups=0)
    assert tfmodels.TFAutoModelForPreTraining.mapping()["albert"] == "TFAlbertForPreTraining"
    assert tfmodels.TFAutoModelForMaskedLM.mapping()["albert"] == "TFAlbertForMaskedLM"


def test_resizing_the_vocabulary_resizes_both_copies_of_the_bias_and_reloads(tmp_path):
    case = Case("albert_mlm")
    model = case.model_class.from_pretrained(case.path("tf_h5"))
    bias = model.get_bias()["bias"].numpy()
    model.resize_token_embeddings(120)
    decoder_bias = model.lm_head_layer.decoder_bias.bias.numpy()
    assert model.get_input_embeddings().embeddings.shape == (120, 16) and decoder_bias.shape == (120,)
    np.testing.assert_array_equal(model.get_bias()["bias"].numpy()[:99], bias)
    np.testing.assert_array_equal(decoder_bias, model.get_bias()["bias"].numpy())
    logits = run(model, case).logits.numpy()
    assert logits.shape == (3, 11, 120)
    np.testing.assert_allclose(logits[..., :99], case.reference["logits"], atol=1e-5, rtol=0)
    model.save_pretrained(tmp_path)
    reloaded, info = case.model_class.from_pretrained(tmp_path, output_loading_info=True)
    assert info == {"missing_keys": [], "unexpected_keys": [], "mismatched_keys": []}
    np.testing.assert_array_equal(run(reloaded, case).logits.numpy(), logits)


def test_a_pytorch_checkpoint_fills_the_decoder_bias_copy(tmp_path):
    """PyTorch saves `predictions.bias` alone (its decoder bias is tied to it): our copy under
    `predictions/decoder/bias` takes its value, so our saves hold both equal as the reference's do."""
    case = Case("albert_mlm")
    model, info = case.model_class.from_pretrained(case.path("pt_safetensors"), output_loading_info=True)
    assert info["missing_keys"] == []
    head = model.get_lm_head()
    np.testing.assert_array_equal(head.decoder_bias.bias.numpy(), head.bias_layer.bias.numpy())
    model.save_pretrained(tmp_path, safe_serialization=True, weight_names="tf")
    from tfmodels.checkpoints.safetensors_format import read_safetensors

    tensors = read_safetensors(str(tmp_path / "model.safetensors")).tensors
    copy, bias = tensors["predictions/decoder/bias"].load(), tensors["predictions/bias"].load()
    np.testing.assert_array_equal(copy, bias)
    assert np.abs(bias).sum() > 0
    model.save_pretrained(tmp_path / "pt", safe_serialization=True)  # PyTorch's layout: the bias once, as it ties
    tensors = read_safetensors(str(tmp_path / "pt" / "model.safetensors")).tensors
    assert "predictions.bias" in tensors and not any(key.startswith("predictions.decoder") for key in tensors)
    np.testing.assert_array_equal(tensors["predictions.bias"].load(), bias)
