"""BART beyond the fixture (which `test_parity.py` and the generation tests cover): the config, the bare model and
sequence classification against transformers (PyTorch) on the same perturbed weights, the `<eos>` rule, the cache
and `encoder_outputs` inputs."""

from __future__ import annotations

import numpy as np
import pytest

from tests.helpers import Case, assert_matches_pytorch_model
from tfmodels import AutoConfig, BartConfig, TFAutoModelForSeq2SeqLM, TFBartForConditionalGeneration

TINY = dict(vocab_size=40, d_model=16, encoder_layers=2, decoder_layers=2, encoder_attention_heads=4,
            decoder_attention_heads=2, encoder_ffn_dim=24, decoder_ffn_dim=20, max_position_embeddings=24)
EOS = 2


def _pytorch(pt_class: str, directory, **config):
    """A seeded transformers model with every parameter and buffer perturbed (a fresh one has unit LayerNorms and
    zero biases, where a misplaced weight could still match), saved to `directory`."""
    import torch
    import transformers

    torch.manual_seed(0)
    model = getattr(transformers, pt_class)(transformers.BartConfig(**TINY, **config)).eval()
    with torch.no_grad():
        for tensor in [*model.parameters(), *model.buffers()]:
            if tensor.is_floating_point():
                tensor.add_(torch.randn_like(tensor) * 0.1)
    model.save_pretrained(directory)
    return model


def _batch() -> tuple[np.ndarray, np.ndarray]:
    """Three sources, each with one `<eos>` as its last real token; rows 1 and 2 are right-padded."""
    rng = np.random.default_rng(0)
    ids = rng.integers(4, TINY["vocab_size"], size=(3, 9)).astype(np.int64)
    mask = np.ones_like(ids)
    for row, length in enumerate((9, 6, 4)):
        ids[row, length - 1] = EOS
        ids[row, length:] = 1
        mask[row, length:] = 0
    return ids, mask


def test_config_has_the_reference_defaults_and_aliases():
    import transformers

    ours, theirs = BartConfig(), transformers.BartConfig()
    for name in ("vocab_size", "d_model", "encoder_layers", "decoder_layers", "encoder_ffn_dim",
                 "decoder_attention_heads", "max_position_embeddings", "activation_function", "dropout", "attention_dropout", "init_std",
                 "scale_embedding", "pad_token_id", "bos_token_id", "eos_token_id", "decoder_start_token_id",
                 "forced_eos_token_id", "num_labels", "is_encoder_decoder"):
        assert getattr(ours, name) == getattr(theirs, name), name
    config = BartConfig(hidden_size=32, num_attention_heads=4, num_hidden_layers=3, id2label={0: "a", 1: "b"})
    assert (config.d_model, config.encoder_attention_heads, config.encoder_layers, config.num_labels) == (32, 4, 3, 2)
    case = Case("bart_lm")
    loaded = AutoConfig.from_pretrained(case.path("tf_h5"))
    assert type(loaded) is BartConfig and loaded.forced_eos_token_id is None and loaded.d_model == 32


def test_auto_class_and_hf_attributes():
    case = Case("bart_lm")
    model = TFAutoModelForSeq2SeqLM.from_pretrained(case.path("pt_safetensors"))
    assert type(model) is TFBartForConditionalGeneration and model.can_generate()
    assert model.final_logits_bias.path == "final_logits_bias" and model.final_logits_bias.shape == (1, 99)
    assert model.get_output_embeddings() is model.get_input_embeddings() is model.model.shared
    assert model.get_input_embeddings().embeddings.path == "model.shared/model.shared/embeddings"
    np.testing.assert_array_equal(model.get_bias()["final_logits_bias"].numpy(), model.final_logits_bias.numpy())
    model.set_bias({"final_logits_bias": np.arange(99.0)})
    model.resize_token_embeddings(101)  # the bias follows, outside the model's scope still
    assert model.final_logits_bias.path == "final_logits_bias" and not model.final_logits_bias.trainable
    np.testing.assert_array_equal(model.final_logits_bias.numpy()[0], list(range(99)) + [0, 0])
    assert [w.path for w in model.weights][-1] == "final_logits_bias"


def test_bare_model_matches_pytorch(tmp_path):
    """Without decoder inputs, the decoder reads the sources shifted right (as the reference)."""
    pt_model = _pytorch("BartModel", tmp_path, scale_embedding=True)
    ids, mask = _batch()
    assert_matches_pytorch_model("TFBartModel", pt_model, tmp_path, ids, mask, {},
                                 ["last_hidden_state", "encoder_last_hidden_state"])


def test_sequence_classification_at_the_last_eos_matches_pytorch(tmp_path):
    pt_model = _pytorch("BartForSequenceClassification", tmp_path, num_labels=3)
    ids, mask = _batch()
    model = assert_matches_pytorch_model("TFBartForSequenceClassification", pt_model, tmp_path, ids, mask,
                                         {"labels": np.array([0, 2, 1])}, ["logits", "encoder_last_hidden_state"])
    assert [w.path for w in model.weights][-4:] == [
        "tf_bart_for_sequence_classification/classification_head/dense/kernel",
        "tf_bart_for_sequence_classification/classification_head/dense/bias",
        "tf_bart_for_sequence_classification/classification_head/out_proj/kernel",
        "tf_bart_for_sequence_classification/classification_head/out_proj/bias"]


def test_rows_with_different_numbers_of_eos_are_refused(tmp_path):
    from tfmodels import TFBartForSequenceClassification

    model = TFBartForSequenceClassification(BartConfig(**TINY))
    ids, mask = _batch()
    ids[0, 2] = EOS  # row 0 now holds two
    with pytest.raises(ValueError, match=r"same number of <eos> tokens .*\[2, 1, 1\]"):
        model({"input_ids": ids, "attention_mask": mask})
    ids[:, :] = 5  # none at all
    with pytest.raises(ValueError, match=r"at least one.*\[0, 0, 0\]"):
        model({"input_ids": ids, "attention_mask": mask})


def test_cached_decoding_and_encoder_outputs_give_the_full_pass():
    """Decoding one token at a time with `past_key_values` (and the encoder output passed in) gives the logits of
    one full pass."""
    case = Case("bart_lm")
    model = case.model_class.from_pretrained(case.path("tf_h5"))
    ids, mask, targets = case.inputs["input_ids"], case.inputs["attention_mask"], case.labels["labels"]
    decoder_ids = model.prepare_decoder_input_ids_from_labels(targets).numpy()
    full = model({"input_ids": ids, "attention_mask": mask, "decoder_input_ids": decoder_ids}, use_cache=True)
    # As the reference: per layer the self-attention key and value, then the cross-attention key and value.
    assert [tuple(t.shape) for t in full.past_key_values[0]] == [(3, 4, 7, 8)] * 2 + [(3, 4, ids.shape[1], 8)] * 2
    assert len(full.past_key_values) == 2
    encoder_outputs = model.get_encoder()(ids, attention_mask=mask)
    np.testing.assert_allclose(encoder_outputs.last_hidden_state, full.encoder_last_hidden_state, atol=1e-6)
    past, steps = None, []
    for t in range(decoder_ids.shape[1]):
        out = model({"attention_mask": mask, "decoder_input_ids": decoder_ids[:, t:t + 1],
                     "encoder_outputs": encoder_outputs, "past_key_values": past}, use_cache=True)
        past = out.past_key_values
        steps.append(out.logits)
    np.testing.assert_allclose(np.concatenate(steps, axis=1), full.logits, atol=1e-5, rtol=0)
    # the labels alone give the same logits (decoder inputs shifted from them)
    np.testing.assert_allclose(model({"input_ids": ids, "attention_mask": mask, "labels": targets}).logits,
                               full.logits, atol=1e-6, rtol=0)


def test_decoder_head_masks_of_the_wrong_shape_are_refused_with_the_reason():
    model = TFBartForConditionalGeneration(BartConfig(**TINY))
    ids, mask = _batch()
    with pytest.raises(ValueError, match=r"head_mask covers 3 layers; the model has 2"):
        model({"input_ids": ids, "attention_mask": mask, "decoder_head_mask": np.ones((3, 4), np.float32)})
    with pytest.raises(ValueError, match=r"head_mask must have rank 1 \[heads\] or 2 \[layers, heads\]"):
        model({"input_ids": ids, "attention_mask": mask, "cross_attn_head_mask": np.ones((1, 2, 4), np.float32)})


def test_an_activation_dropout_the_layers_cannot_apply_is_reported(caplog):
    from tfmodels.models.bart.modeling_bart import bart_layer_spec

    assert bart_layer_spec(BartConfig(**TINY, dropout=0.1, activation_dropout=0.1), decoder=False).dropout_inside_ffn
    assert not bart_layer_spec(BartConfig(**TINY, activation_dropout=0.0), decoder=True).dropout_inside_ffn
    assert not caplog.records
    bart_layer_spec(BartConfig(**TINY, dropout=0.1, activation_dropout=0.3), decoder=False)
    assert "at dropout=0.1, not at activation_dropout=0.3" in caplog.text


def test_older_tf_files_naming_the_shared_embeddings_weight_load(tmp_path):
    """BART files converted before the reference used Keras' Embedding name the shared table `.../weight:0`; the
    reference looks an `embeddings` weight up under that name too, and so do we."""
    from safetensors.numpy import load_file, save_file

    case = Case("bart_lm")
    tensors = load_file(case.path("tf_safetensors") + "/model.safetensors")
    tensors["model.shared/model.shared/weight:0"] = tensors.pop("model.shared/model.shared/embeddings:0")
    case.copy("tf_safetensors", tmp_path)
    directory = tmp_path / "bart_lm_tf_safetensors"
    save_file(tensors, str(directory / "model.safetensors"), metadata={"format": "tf"})
    model, info = TFBartForConditionalGeneration.from_pretrained(directory, output_loading_info=True)
    assert info == {"missing_keys": [], "unexpected_keys": [], "mismatched_keys": []}
    np.testing.assert_array_equal(model.get_input_embeddings().embeddings.numpy(),
                                  tensors["model.shared/model.shared/weight:0"])


def test_labels_equal_to_padding_are_ignored_as_the_reference():
    """The reference's BART turns labels equal to `pad_token_id` into -100 before its loss (T5's does not: see
    test_t5)."""
    model = TFBartForConditionalGeneration(BartConfig(**TINY))
    ids, mask = _batch()
    labels = ids[:, :7].copy()  # rows 1 and 2 end with padding (1)
    ignored = np.where(labels == model.config.pad_token_id, -100, labels)
    assert (labels == 1).sum() == 4
    padded = model({"input_ids": ids, "attention_mask": mask, "labels": labels})
    minus_100 = model({"input_ids": ids, "attention_mask": mask, "labels": ignored})
    assert padded.loss.shape == (3,)
    np.testing.assert_array_equal(padded.loss.numpy(), minus_100.loss.numpy())
    np.testing.assert_array_equal(padded.logits.numpy(), minus_100.logits.numpy())


def test_the_cache_is_returned_as_config_use_cache_says_except_with_labels():
    """As the reference: `use_cache` defaults to `config.use_cache` (True); labels turn it off."""
    model = TFBartForConditionalGeneration(BartConfig(**TINY))
    ids, mask = _batch()
    inputs = {"input_ids": ids, "attention_mask": mask, "decoder_input_ids": ids[:, :4]}
    out = model(inputs)
    assert len(out.past_key_values) == 2 and [tuple(t.shape) for t in out.past_key_values[1]] == [
        (3, 2, 4, 8), (3, 2, 4, 8), (3, 2, ids.shape[1], 8), (3, 2, ids.shape[1], 8)]
    assert model(inputs, use_cache=False).past_key_values is None
    assert model({**inputs, "labels": ids[:, :4]}, use_cache=True).past_key_values is None
    model.config.use_cache = False
    assert model(inputs).past_key_values is None
