"""T5 and mT5 beyond the `t5_lm` fixture (v1.0, tied; its parity, weight names and generation run in
`test_parity.py` and the generation tests): v1.1 (gated-gelu, untied `lm_head`), a checkpoint saved by
transformers 5 and mT5's classes against transformers' PyTorch models on the same weights, the encoder-only and bare
models on the fixture, the relative position buckets, the served `generate` signature, and the errors."""

from __future__ import annotations

import os

import numpy as np
import pytest
import tensorflow as tf
import torch

import tfmodels
from tests.helpers import Case
from tfmodels.errors import ConfigError
from tfmodels.layers.relative_position import relative_position_bucket
from tfmodels.seq2seq import shift_tokens_right

TINY = dict(vocab_size=40, d_model=16, d_kv=6, d_ff=24, num_layers=2, num_decoder_layers=3, num_heads=3,
            relative_attention_num_buckets=8, relative_attention_max_distance=12, dropout_rate=0.0)


def _v1_1_checkpoint(directory, model_type: str) -> "torch.nn.Module":
    """A perturbed v1.1 PyTorch model (gated-gelu, its own `lm_head`) saved in `directory` as transformers 4
    saves it (every key, `tie_word_embeddings: false`); returns the model (transformers 5 ties `lm_head` itself, so
    it is untied here by hand)."""
    from safetensors.torch import save_file
    import transformers

    prefix = {"t5": "T5", "mt5": "MT5"}[model_type]
    pt_config = getattr(transformers, f"{prefix}Config")(**TINY, feed_forward_proj="gated-gelu",
                                                         tie_word_embeddings=False, decoder_start_token_id=0)
    torch.manual_seed(0)
    model = getattr(transformers, f"{prefix}ForConditionalGeneration")(pt_config).eval()
    with torch.no_grad():
        model.lm_head.weight = torch.nn.Parameter(torch.randn_like(model.lm_head.weight))
        for parameter in model.parameters():
            parameter.add_(0.05 * torch.randn_like(parameter))
    assert not getattr(model.config, "scale_decoder_outputs", False) and model.lm_head.weight is not model.shared.weight
    save_file({key: value.detach().clone().contiguous() for key, value in model.state_dict().items()},
              os.path.join(directory, "model.safetensors"), metadata={"format": "pt"})
    getattr(tfmodels, f"{prefix}Config")(**TINY, feed_forward_proj="gated-gelu",
                                         tie_word_embeddings=False).save_pretrained(directory)
    return model


def _batch(rng):
    ids = rng.integers(2, 40, size=(3, 9)).astype(np.int32)
    mask = np.ones_like(ids)
    mask[1, -3:] = mask[2, -5:] = 0
    labels = rng.integers(2, 40, size=(3, 6)).astype(np.int32)
    labels[2, -2:] = -100
    return ids, mask, labels


def test_v1_1_gated_untied_matches_pytorch(tmp_path):
    pt_model = _v1_1_checkpoint(tmp_path, "t5")
    ids, mask, labels = _batch(np.random.default_rng(0))
    with torch.no_grad():
        expected = pt_model(input_ids=torch.tensor(ids, dtype=torch.long), attention_mask=torch.tensor(mask),
                            labels=torch.tensor(labels, dtype=torch.long), output_hidden_states=True)
    model, info = tfmodels.TFT5ForConditionalGeneration.from_pretrained(tmp_path, output_loading_info=True)
    assert info == {"missing_keys": [], "unexpected_keys": [], "mismatched_keys": []}
    assert model.lm_head.kernel.shape == (16, 40)  # its own head, [d_model, vocab]
    out = model({"input_ids": ids, "attention_mask": mask, "labels": labels}, output_hidden_states=True)
    for name in ("logits", "encoder_last_hidden_state"):
        np.testing.assert_allclose(out[name], getattr(expected, name).numpy(), atol=1e-5, rtol=0, err_msg=name)
    for name in ("encoder_hidden_states", "decoder_hidden_states"):
        assert len(out[name]) == len(getattr(expected, name)) == {"encoder_hidden_states": 3,
                                                                   "decoder_hidden_states": 4}[name]
        np.testing.assert_allclose(np.stack(out[name]), np.stack([h.numpy() for h in getattr(expected, name)]),
                                   atol=1e-5, rtol=0, err_msg=name)
    np.testing.assert_allclose(np.mean(out["loss"]), expected.loss.numpy(), atol=1e-5, rtol=0)


def test_checkpoint_saved_by_transformers_5_loads_with_its_unscaled_tied_head(tmp_path):
    """transformers 5 ties v1.1's `lm_head` to the shared embeddings without the v1.0 rescale and says so in the
    config (`tie_word_embeddings: true`, `scale_decoder_outputs: false`); its files then hold no `lm_head`."""
    import transformers

    torch.manual_seed(1)
    pt_model = transformers.T5ForConditionalGeneration(transformers.T5Config(
        **TINY, feed_forward_proj="gated-gelu", tie_word_embeddings=False, decoder_start_token_id=0)).eval()
    pt_model.save_pretrained(tmp_path)
    ids, mask, labels = _batch(np.random.default_rng(3))
    with torch.no_grad():
        expected = pt_model(input_ids=torch.tensor(ids, dtype=torch.long), attention_mask=torch.tensor(mask),
                            labels=torch.tensor(labels, dtype=torch.long))
    model, info = tfmodels.TFT5ForConditionalGeneration.from_pretrained(tmp_path, output_loading_info=True)
    assert info == {"missing_keys": [], "unexpected_keys": [], "mismatched_keys": []}
    assert model.config.tie_word_embeddings and not model.config.scale_decoder_outputs
    out = model({"input_ids": ids, "attention_mask": mask, "labels": labels})
    np.testing.assert_allclose(out["logits"], expected.logits.numpy(), atol=1e-5, rtol=0)
    np.testing.assert_allclose(np.mean(out["loss"]), expected.loss.numpy(), atol=1e-5, rtol=0)


def test_mt5_classes_match_pytorch_on_one_checkpoint(tmp_path):
    import transformers

    pt_lm = _v1_1_checkpoint(tmp_path, "mt5")
    ids, mask, labels = _batch(np.random.default_rng(1))
    decoder_ids = pt_lm._shift_right(torch.tensor(labels, dtype=torch.long))
    pt_inputs = {"input_ids": torch.tensor(ids, dtype=torch.long), "attention_mask": torch.tensor(mask)}
    with torch.no_grad():
        expected = {
            "TFMT5ForConditionalGeneration": pt_lm(**pt_inputs, labels=torch.tensor(labels, dtype=torch.long)),
            "TFMT5Model": transformers.MT5Model.from_pretrained(tmp_path).eval()(**pt_inputs,
                                                                                 decoder_input_ids=decoder_ids),
            "TFMT5EncoderModel": transformers.MT5EncoderModel.from_pretrained(tmp_path).eval()(**pt_inputs),
        }
    compared = {"TFMT5ForConditionalGeneration": ("logits", "encoder_last_hidden_state"),
                "TFMT5Model": ("last_hidden_state", "encoder_last_hidden_state"),
                "TFMT5EncoderModel": ("last_hidden_state",)}
    keras_names = {"TFMT5ForConditionalGeneration": "tfmt5_for_conditional_generation", "TFMT5Model": "tfmt5_model",
                   "TFMT5EncoderModel": "tfmt5_encoder_model"}  # the reference's model names (weight prefixes)
    extra = {"TFMT5ForConditionalGeneration": {"labels": labels},
             "TFMT5Model": {"decoder_input_ids": decoder_ids.numpy().astype(np.int32)}, "TFMT5EncoderModel": {}}
    loaders = {"TFMT5ForConditionalGeneration": tfmodels.TFAutoModelForSeq2SeqLM, "TFMT5Model": tfmodels.TFAutoModel,
               "TFMT5EncoderModel": tfmodels.TFMT5EncoderModel}  # the auto classes map model_type "mt5"
    for class_name, names in compared.items():
        model, info = loaders[class_name].from_pretrained(tmp_path, output_loading_info=True)
        assert type(model) is getattr(tfmodels, class_name) and type(model.config) is tfmodels.MT5Config
        assert model.name == keras_names[class_name]
        assert info == {"missing_keys": [], "unexpected_keys": [], "mismatched_keys": []}, class_name
        out = model({"input_ids": ids, "attention_mask": mask, **extra[class_name]})
        for name in names:
            np.testing.assert_allclose(out[name], getattr(expected[class_name], name).numpy(), atol=1e-5, rtol=0,
                                       err_msg=f"{class_name}.{name}")
        if class_name == "TFMT5ForConditionalGeneration":
            assert out["loss"].shape == (3,)
            np.testing.assert_allclose(np.mean(out["loss"]), expected[class_name].loss.numpy(), atol=1e-5, rtol=0)
    config = tfmodels.MT5Config()
    assert (config.model_type, config.vocab_size, config.d_ff, config.is_gated_act, config.tie_word_embeddings) == (
        "mt5", 250112, 1024, True, False)


def test_encoder_and_bare_models_load_the_fixture_and_match_its_encoder():
    case = Case("t5_lm")
    inputs = {"input_ids": case.inputs["input_ids"], "attention_mask": case.inputs["attention_mask"]}
    encoder, info = tfmodels.TFT5EncoderModel.from_pretrained(case.path("pt_safetensors"), output_loading_info=True)
    assert info == {"missing_keys": [], "unexpected_keys": [], "mismatched_keys": []}  # decoder, lm_head ignored
    assert not any("decoder" in w.path for w in encoder.weights)
    out = encoder(inputs, output_hidden_states=True)
    np.testing.assert_allclose(out["last_hidden_state"], case.reference["encoder_last_hidden_state"], atol=1e-5)
    np.testing.assert_allclose(np.stack(out["hidden_states"]), case.reference["encoder_hidden_states"], atol=1e-5)

    bare, info = tfmodels.TFT5Model.from_pretrained(case.path("tf_h5"), output_loading_info=True)
    assert info == {"missing_keys": [], "unexpected_keys": [], "mismatched_keys": []}
    decoder_ids = shift_tokens_right(case.labels["labels"], 0, 0)
    out = bare({**inputs, "decoder_input_ids": decoder_ids}, output_hidden_states=True)
    np.testing.assert_allclose(out["encoder_last_hidden_state"], case.reference["encoder_last_hidden_state"],
                               atol=1e-5)
    np.testing.assert_allclose(np.stack(out["decoder_hidden_states"]), case.reference["decoder_hidden_states"],
                               atol=1e-5)


def test_relative_position_buckets_equal_the_reference():
    from transformers.models.t5.modeling_t5 import T5Attention

    relative = np.arange(-300, 300)
    for bidirectional in (True, False):
        for buckets, distance in ((32, 128), (8, 20), (6, 7)):
            expected = T5Attention._relative_position_bucket(torch.tensor(relative), bidirectional, buckets, distance)
            ours = relative_position_bucket(tf.constant(relative), bidirectional, buckets, distance)
            np.testing.assert_array_equal(ours.numpy(), expected.numpy())


def test_errors_name_the_problem():
    with pytest.raises(ConfigError, match="'gated-gelu'.*received 'gelu-gated'"):
        tfmodels.T5Config(feed_forward_proj="gelu-gated")
    model = tfmodels.TFT5Model(tfmodels.T5Config(**TINY))
    ids = np.ones((1, 4), np.int32)
    with pytest.raises(ValueError, match=r"head_mask covers 2 layers; the model has 3"):
        model({"input_ids": ids, "decoder_input_ids": ids, "decoder_head_mask": np.ones((2, 3), np.float32)})
    # as the reference, T5 does not shift input_ids into decoder inputs (BART does)
    with pytest.raises(ValueError, match=r"TFT5Model needs decoder_input_ids \(or decoder_inputs_embeds\); received "
                                         "none. Pass decoder_input_ids"):
        model({"input_ids": ids})
    lm = tfmodels.TFT5ForConditionalGeneration(tfmodels.T5Config(**TINY))
    with pytest.raises(ValueError, match=r"needs decoder_input_ids \(or decoder_inputs_embeds\) or labels; received"):
        lm({"input_ids": ids, "attention_mask": ids})


def test_labels_equal_to_padding_count_in_the_loss_as_the_reference():
    """Unlike BART's, T5's reference leaves labels equal to `pad_token_id` (0) in the loss."""
    model = tfmodels.TFT5ForConditionalGeneration(tfmodels.T5Config(**TINY))
    ids, mask, labels = _batch(np.random.default_rng(2))
    labels[1, -2:] = model.config.pad_token_id
    padded = model({"input_ids": ids, "attention_mask": mask, "labels": labels}).loss.numpy()
    ignored = model({"input_ids": ids, "attention_mask": mask,
                     "labels": np.where(labels == 0, -100, labels)}).loss.numpy()
    # the mean runs over 16 labelled tokens instead of 14 (row 2 ends with two -100): rows 0 and 2 scale by 14/16
    np.testing.assert_allclose(padded[[0, 2]], ignored[[0, 2]] * 14 / 16, rtol=1e-6)
    assert padded[1] - ignored[1] * 14 / 16 > 1e-3  # row 1's padding adds its cross entropy


@pytest.mark.slow
def test_served_generate_signature_answers_without_keras(tmp_path):
    """Exported with `generate=True`, then called in a process where keras and this project cannot be imported:
    the fixture's PyTorch greedy tokens (the export's own verification only loads `generate`: its inputs are not
    the default signature's)."""
    from serving import export_saved_model
    from tests.serving.test_export import _load_elsewhere

    case = Case("t5_lm")
    data = np.load(os.path.join(case.root, "io.npz"))
    model = tfmodels.TFT5ForConditionalGeneration.from_pretrained(case.path("tf_h5"))
    settings = case.meta["generation"]
    path = export_saved_model(model, tmp_path / "export", generate=True, verify=False,
                              generation_kwargs={"max_new_tokens": settings["max_new_tokens"],
                                                 "min_new_tokens": settings["min_new_tokens"]})
    report = _load_elsewhere(path, {
        "a/generate/in/input_ids": data["gen.input_ids"], "a/generate/in/attention_mask": data["gen.attention_mask"],
        "a/generate/out/sequences": data["gen.pt.greedy"],
        "a/generate/out/sequence_lengths": np.array([9, 9], np.int32),
    }, tmp_path)
    assert report["problems"] == [] and report["checked"] == 1
    assert "generate" in report["signatures"]
