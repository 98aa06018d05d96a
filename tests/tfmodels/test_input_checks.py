"""Careless inputs fail at the model's boundary with what was expected, on every path: eager calls, graphs and
exports (assertions with the same message), and compiled paths, where XLA would otherwise clamp an id outside the
vocabulary to the last row and answer wrongly without a word."""

import numpy as np
import pytest
import tensorflow as tf

import tfmodels
from serving import export_saved_model

GPT2 = tfmodels.GPT2Config(vocab_size=50, n_embd=16, n_layer=1, n_head=2, n_positions=32)
BERT = tfmodels.BertConfig(vocab_size=100, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                           intermediate_size=32, max_position_embeddings=20)
OUT_OF_VOCABULARY = r"input_ids holds token id 60, outside the vocabulary of 50 \(ids 0 to 49\).*resize_token_embeddings"
IN_GRAPH = r"input_ids holds a token id outside the vocabulary of 50 \(ids 0 to 49\)"
BAD = np.array([[1, 2, 60]], np.int32)


@pytest.fixture(scope="module")
def gpt2():
    return tfmodels.TFGPT2LMHeadModel(GPT2)


@pytest.fixture(scope="module")
def bert():
    return tfmodels.TFBertForSequenceClassification(BERT)


# (inputs, exception, message): what a careless user passes to a BERT classifier.
CARELESS_CALLS = [
    ({"input_ids": [[1, 150]]}, ValueError, r"input_ids holds token id 150, outside the vocabulary of 100"),
    ({"input_ids": [[1, -1]]}, ValueError, r"input_ids holds token id -1; ids are 0 to 99.*-100"),
    ({"input_ids": np.array([[1.0, 2.0]])}, TypeError, r"input_ids must hold integer ids; received dtype float(32|64)"),
    ({"input_ids": [["a", "b"]]}, TypeError, r"input_ids must hold numbers; received list of dtype <U1"),
    ({"input_ids": [[1, 2], [3]]}, ValueError, r"input_ids must be a rectangular array of numbers.*padding=True"),
    ({"input_ids": np.ones((1, 30), np.int32)}, ValueError,
     r"input_ids has 30 tokens; the model's positions cover 20\. Truncate the inputs to 20 tokens \(tokenizer"),
    ({"input_ids": np.ones((2, 5), np.int32), "attention_mask": np.ones((2, 4), np.int32)}, ValueError,
     r"attention_mask must have the shape of input_ids \[2, 5\]; received \[2, 4\]"),
    ({"input_ids": np.ones((5,), np.int32)}, ValueError,
     r"input_ids must be \[batch, sequence\]; received shape \[5\] \(rank 1\)\. Add the batch axis"),
    ({"input_ids": np.ones((2, 0), np.int32)}, ValueError, r"input_ids holds no tokens \(shape \[2, 0\]\)"),
    ({"input_ids": [[1, 2]], "token_type_ids": [[0, 5]]}, ValueError,
     r"token_type_ids holds token id 5, outside the vocabulary of 2.*2 token types"),
    ({"inputs_embeds": np.ones((1, 3, 7), np.float32)}, ValueError,
     r"inputs_embeds must have the embedding size 16 on its last axis; received shape \[1, 3, 7\]"),
    ({"input_ids": np.ones((1, 2, 3), np.int32)}, ValueError, r"input_ids must be \[batch, sequence\]; received "
                                                              r"shape \[1, 2, 3\]"),
]


@pytest.mark.parametrize("inputs, error, message", CARELESS_CALLS)
def test_careless_calls_name_the_problem(bert, inputs, error, message):
    with pytest.raises(error, match=message):
        bert(inputs)


def test_valid_inputs_pass_unchanged(bert):
    ids = np.array([[1, 2, 3], [4, 5, 0]], np.int32)
    mask = np.array([[1, 1, 1], [1, 1, 0]], np.int32)
    checked = bert.check_inputs({"input_ids": ids, "attention_mask": mask})
    np.testing.assert_array_equal(checked["input_ids"], ids)
    np.testing.assert_array_equal(bert({"input_ids": ids.tolist(), "attention_mask": mask.tolist()}).logits,
                                  bert({"input_ids": ids, "attention_mask": mask}).logits)


def test_in_a_graph_ids_are_checked_when_it_runs(bert):
    run = tf.function(lambda ids: bert({"input_ids": ids}).logits)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"input_ids holds a token id outside the vocabulary "
                                                             r"of 100"):
        run(tf.constant([[1, 150]]))
    assert run(tf.constant([[1, 99]])).shape == (1, 2)
    unknown_length = tf.function(lambda ids: bert({"input_ids": ids}).logits,
                                 input_signature=[tf.TensorSpec([None, None], tf.int32)])
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"input_ids is longer than the 20 positions of the model"):
        unknown_length(tf.ones((1, 21), tf.int32))
    masked = tf.function(lambda ids, mask: bert({"input_ids": ids, "attention_mask": mask}).logits,
                         input_signature=[tf.TensorSpec([None, None], tf.int32)] * 2)
    with pytest.raises(tf.errors.InvalidArgumentError, match=r"attention_mask must have the shape of input_ids"):
        masked(tf.ones((1, 4), tf.int32), tf.ones((1, 3), tf.int32))


def test_xla_would_clamp_but_the_compiled_paths_raise(gpt2):
    # What the checks prevent: XLA's gather answers for id 60 with row 49, silently.
    table = gpt2.get_input_embeddings().embeddings
    clamped = tf.function(lambda ids: tf.gather(table, ids), jit_compile=True)(tf.constant([60]))
    np.testing.assert_array_equal(clamped.numpy()[0], table.numpy()[49])
    with pytest.raises(ValueError, match=OUT_OF_VOCABULARY):
        gpt2.generate(BAD, max_new_tokens=2, jit_compile=True)
    with pytest.raises(ValueError, match=OUT_OF_VOCABULARY):
        gpt2.generate(BAD, max_new_tokens=2)


def test_generate_refuses_empty_and_too_long_prompts(gpt2):
    with pytest.raises(ValueError, match=r"input_ids holds no tokens \(shape \[1, 0\]\)"):
        gpt2.generate(np.ones((1, 0), np.int32), max_new_tokens=2)
    with pytest.raises(ValueError, match=r"Generating up to 35 tokens \(a prompt of 30 plus new ones\) exceeds the "
                                         r"model's 32 positions: lower max_new_tokens to 2"):
        gpt2.generate(np.ones((1, 30), np.int32), max_new_tokens=5, pad_token_id=0)
    with pytest.raises(ValueError, match=r"input_ids has 40 tokens; the model's positions cover 32"):
        gpt2.generate(np.ones((1, 40), np.int32), max_new_tokens=1, pad_token_id=0)
    with pytest.raises(TypeError, match=r"input_ids must hold integer ids; received dtype float32"):
        gpt2.generate(np.ones((1, 3), np.float32), max_new_tokens=1, pad_token_id=0)
    assert gpt2.generate(np.ones((1, 30), np.int32), max_new_tokens=2, pad_token_id=0).shape == (1, 32)


@pytest.mark.parametrize("jit_compile", [True, False])
def test_fit_evaluate_and_predict_check_batches(jit_compile):
    model = tfmodels.TFGPT2LMHeadModel(GPT2)
    model.compile(optimizer="adam", loss="auto", jit_compile=jit_compile)
    ids = np.concatenate([np.ones((3, 3), np.int32), BAD])
    dataset = tf.data.Dataset.from_tensor_slices({"input_ids": ids, "labels": np.ones((4, 3), np.int32)}).batch(2)
    before = [weight.numpy() for weight in model.trainable_weights]
    for run in (lambda: model.fit(dataset, epochs=1, verbose=0), lambda: model.evaluate(dataset, verbose=0)):
        with pytest.raises(tf.errors.InvalidArgumentError, match=IN_GRAPH):
            run()
    with pytest.raises((ValueError, tf.errors.InvalidArgumentError), match="outside the vocabulary of 50"):
        model.predict({"input_ids": BAD}, verbose=0)
    # The first batch was valid: it trained; the second was refused before its step.
    assert any(not np.array_equal(a, b.numpy()) for a, b in zip(before, model.trainable_weights))
    good = dataset.take(1)
    assert model.evaluate(good, verbose=0) > 0


def test_exported_signatures_refuse_ids_outside_the_vocabulary(gpt2, tmp_path):
    path = export_saved_model(gpt2, tmp_path / "export", verify=False)
    serve = tf.saved_model.load(path).signatures["serving_default"]
    with pytest.raises(tf.errors.InvalidArgumentError, match=IN_GRAPH):
        serve(input_ids=tf.constant(BAD), attention_mask=tf.ones_like(BAD))
    assert serve(input_ids=tf.constant([[1, 2]]), attention_mask=tf.ones((1, 2), tf.int32))["logits"].shape == (1, 2, 50)


def test_seq2seq_and_cached_inputs(tmp_path):
    bart = tfmodels.TFBartForConditionalGeneration(tfmodels.BartConfig(
        vocab_size=40, d_model=16, encoder_layers=1, decoder_layers=1, encoder_attention_heads=2,
        decoder_attention_heads=2, encoder_ffn_dim=16, decoder_ffn_dim=16, max_position_embeddings=10))
    ids = np.ones((1, 4), np.int32)
    with pytest.raises(ValueError, match=r"decoder_input_ids holds token id 45, outside the vocabulary of 40"):
        bart({"input_ids": ids, "decoder_input_ids": [[45]]})
    with pytest.raises(ValueError, match=r"input_ids has 11 tokens; the model's positions cover 10"):
        bart({"input_ids": np.ones((1, 11), np.int32), "decoder_input_ids": ids})
    # With a cache, the decoder's mask covers the cached tokens too; the batch must still match.
    first = bart({"input_ids": ids, "decoder_input_ids": ids}, use_cache=True)
    step = bart({"input_ids": ids, "decoder_input_ids": [[3]], "decoder_attention_mask": np.ones((1, 5), np.int32),
                 "past_key_values": first.past_key_values})
    assert step.logits.shape == (1, 1, 40)
    with pytest.raises(ValueError, match=r"decoder_attention_mask must have the batch shape of decoder_input_ids"):
        bart({"input_ids": ids, "decoder_input_ids": [[3]], "decoder_attention_mask": np.ones((2, 5), np.int32),
              "past_key_values": first.past_key_values})
    with pytest.raises(ValueError, match=r"decoder_input_ids has 7 tokens after 4 cached tokens; the model's "
                                         r"positions cover 10"):
        bart({"input_ids": ids, "decoder_input_ids": np.ones((1, 7), np.int32),
              "past_key_values": first.past_key_values})
