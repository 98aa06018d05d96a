"""The shared encoder-decoder pieces (`tfmodels.seq2seq`): `shift_tokens_right`, `encoder_outputs` forms, generation
(every strategy, eager and compiled, prompt buckets) and the serving export with and without `generate`."""

from __future__ import annotations

import os

import numpy as np
import pytest
import tensorflow as tf

from tests.helpers import Case
from tfmodels import BartConfig
from tfmodels.seq2seq import encoder_states, eos_token_id, shift_tokens_right


@pytest.fixture(scope="module")
def bart():
    case = Case("bart_lm")
    data = np.load(os.path.join(case.root, "io.npz"))
    return case.model_class.from_pretrained(case.path("tf_h5")), data["gen.input_ids"], data["gen.attention_mask"]


def test_shift_tokens_right_is_the_reference_s():
    import torch
    from transformers.models.bart.modeling_bart import shift_tokens_right as reference

    labels = np.random.default_rng(0).integers(0, 50, size=(4, 7))
    labels[1, 4:] = -100
    labels[2, 0] = -100
    expected = reference(torch.tensor(labels), 1, 2).numpy()
    got = shift_tokens_right(labels, pad_token_id=1, decoder_start_token_id=2)
    assert got.dtype == tf.int32
    np.testing.assert_array_equal(got.numpy(), expected)
    with pytest.raises(ValueError, match="needs pad_token_id"):
        shift_tokens_right(labels, None, 2)
    with pytest.raises(ValueError, match="needs decoder_start_token_id"):
        shift_tokens_right(labels, 1, None)


def test_encoder_outputs_in_every_accepted_form():
    states = tf.ones([1, 2, 4])
    assert encoder_states(states) == {"last_hidden_state": states, "hidden_states": None, "attentions": None}
    assert encoder_states((states,))["last_hidden_state"] is states
    assert encoder_states({"last_hidden_state": states, "hidden_states": (states,)})["hidden_states"] == (states,)
    with pytest.raises(ValueError, match="must hold last_hidden_state; received keys \\['logits'\\]"):
        encoder_states({"logits": states})


def test_eos_token_id_is_the_first_of_a_list():
    assert eos_token_id(BartConfig(eos_token_id=[5, 2])) == 5 and eos_token_id(BartConfig(eos_token_id=2)) == 2
    with pytest.raises(ValueError, match=r"BartConfig.eos_token_id must be a token id \(received None\)"):
        eos_token_id(BartConfig(eos_token_id=None))


def test_cross_keys_and_values_stay_in_the_attention_layout_and_expand_on_their_batch_axis(bart):
    """`generate` repeats the encoder output per beam: the states on axis 0, each decoder layer's cross-attention
    keys and values (`[2, batch, heads, source, head_dim]`, as the attention reads them) on axis 1."""
    model, ids, mask = bart
    encoded = model.encode_for_generation(tf.constant(ids), tf.constant(mask))
    states, cross = encoded["encoder_hidden_states"], encoded["cross_key_values"]
    attention = model.get_decoder().layer[0].crossattention
    assert len(cross) == model.config.decoder_layers
    assert cross[0].shape == (2, ids.shape[0], attention.num_kv_heads, ids.shape[1], attention.head_dim)
    np.testing.assert_array_equal(
        cross[1].numpy(), model.get_decoder().layer[1].crossattention.project_key_value(states).numpy())
    expanded = model.expand_encoder_outputs(encoded, 3)
    np.testing.assert_array_equal(expanded["encoder_hidden_states"].numpy(), np.repeat(states.numpy(), 3, axis=0))
    for layer in range(len(cross)):
        np.testing.assert_array_equal(expanded["cross_key_values"][layer].numpy(),
                                      np.repeat(cross[layer].numpy(), 3, axis=1))


def test_generation_starts_from_the_decoder_start_token_and_buckets_right_pad_the_sources(bart):
    model, ids, mask = bart
    plain = model.generate(ids, attention_mask=mask, max_new_tokens=5, min_new_tokens=5).numpy()
    assert plain.shape == (2, 6) and (plain[:, 0] == model.config.decoder_start_token_id).all()
    bucketed = model.generate(ids, attention_mask=mask, max_new_tokens=5, min_new_tokens=5, pad_to_multiple_of=16)
    np.testing.assert_array_equal(bucketed.numpy(), plain)
    out = model.generate(ids, attention_mask=mask, max_new_tokens=5, num_beams=3, num_return_sequences=2,
                         output_scores=True, return_dict_in_generate=True)
    assert out.sequences.shape[0] == 4 and out.sequences_scores.shape == (4,)
    assert (out.sequences.numpy()[:, 0] == model.config.decoder_start_token_id).all()


@pytest.mark.slow
def test_sampling_is_seeded_and_compiled_draws_the_same_tokens(bart):
    model, ids, mask = bart
    kwargs = {"max_new_tokens": 6, "min_new_tokens": 6, "do_sample": True, "top_k": 20, "num_return_sequences": 2}
    eager = model.generate(ids, attention_mask=mask, seed=3, **kwargs).numpy()
    assert eager.shape == (4, 7)
    np.testing.assert_array_equal(model.generate(ids, attention_mask=mask, seed=3, jit_compile=True, **kwargs).numpy(),
                                  eager)
    assert (model.generate(ids, attention_mask=mask, seed=4, **kwargs).numpy() != eager).any()


def test_served_generate_function_gives_the_generate_tokens(bart):
    """The `generate` serving function (what `export_saved_model(..., generate=True)` exports; the default
    signatures with decoder inputs are exported and verified by test_every_model, traced for every class) returns
    `model.generate`'s sequences: the decoder start token first, then the new tokens."""
    model, ids, mask = bart
    functions = model.generation_serving_functions(max_new_tokens=4, min_new_tokens=4)
    assert sorted(functions) == ["generate", "generate_max_new_tokens"]
    served = functions["generate_max_new_tokens"][0](
        {"input_ids": tf.constant(ids), "attention_mask": tf.constant(mask), "max_new_tokens": tf.constant([4, 2])})
    expected = model.generate(ids, attention_mask=mask, max_new_tokens=4, min_new_tokens=4).numpy()
    np.testing.assert_array_equal(served["sequences"].numpy()[0], expected[0])
    pad = model.config.pad_token_id
    np.testing.assert_array_equal(served["sequences"].numpy()[1], list(expected[1, :3]) + [pad, pad])
    np.testing.assert_array_equal(served["sequence_lengths"].numpy(), [5, 3])


@pytest.mark.parametrize("class_name", ["TFBartModel", "TFT5ForConditionalGeneration", "TFWhisperModel"])
def test_served_outputs_hold_sources_and_targets_of_different_lengths(class_name):
    """The serving function of every encoder-decoder answers a source of 5 and a target of 3 positions (the
    decoder cache, whose self- and cross-attention parts differ in length, is not served)."""
    from tests.tfmodels.models.model_checks import tiny_model

    model = tiny_model(class_name)
    inputs = dict(model.make_dummy_inputs(batch_size=2, length=3))
    if "input_ids" in inputs:
        inputs["input_ids"] = tf.ones([2, 5], tf.int32)
        inputs["attention_mask"] = tf.ones([2, 5], tf.int32)
    served = tf.function(model.serving)(inputs)
    assert "past_key_values" not in served and "encoder_last_hidden_state" in served
    expected = model(inputs, training=False)
    first = "logits" if "logits" in served else "last_hidden_state"
    assert served[first].shape[1] == 3
    np.testing.assert_allclose(served[first], expected[first], atol=1e-5)
