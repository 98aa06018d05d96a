"""Sequence-to-sequence training data: `TFDataCollatorForSeq2Seq` pads inputs and labels separately and makes
decoder inputs; `prepare_tf_dataset` feeds `fit`/`evaluate` of an encoder-decoder model, and `KerasMetricCallback`
receives its generated tokens (`predict_with_generate=True`)."""

from __future__ import annotations

import datasets
import keras
import numpy as np
import pytest

from keras_integration import KerasMetricCallback, TFDataCollatorForSeq2Seq
from tests.helpers import Case

EXAMPLES = [{"input_ids": [5, 6, 7, 2], "labels": [8, 9, 2]}, {"input_ids": [5, 2], "labels": [8, 9, 4, 10, 2]}]


def test_inputs_and_labels_are_padded_separately_and_shifted_into_decoder_inputs():
    batch = TFDataCollatorForSeq2Seq(pad_token_id=1, decoder_start_token_id=2)(EXAMPLES)
    assert sorted(batch) == ["decoder_input_ids", "input_ids", "labels"]
    np.testing.assert_array_equal(batch["input_ids"], [[5, 6, 7, 2], [5, 2, 1, 1]])
    np.testing.assert_array_equal(batch["labels"], [[8, 9, 2, -100, -100], [8, 9, 4, 10, 2]])
    np.testing.assert_array_equal(batch["decoder_input_ids"], [[2, 8, 9, 2, 1], [2, 8, 9, 4, 10]])
    assert {value.dtype for value in batch.values()} == {np.dtype(np.int32)}


def test_without_a_start_token_the_model_shifts_the_labels_itself():
    batch = TFDataCollatorForSeq2Seq(pad_token_id=1, pad_to_multiple_of=4)(EXAMPLES)
    assert sorted(batch) == ["input_ids", "labels"]
    assert batch["input_ids"].shape == (2, 4) and batch["labels"].shape == (2, 8)
    np.testing.assert_array_equal(batch["labels"][0], [8, 9, 2] + [-100] * 5)


def test_the_model_makes_the_decoder_inputs_as_in_training():
    from tfmodels import BartConfig, TFBartForConditionalGeneration

    model = TFBartForConditionalGeneration(BartConfig(vocab_size=20, d_model=8, encoder_layers=1, decoder_layers=1,
                                                      encoder_attention_heads=2, decoder_attention_heads=2,
                                                      encoder_ffn_dim=8, decoder_ffn_dim=8, decoder_start_token_id=3))
    batch = TFDataCollatorForSeq2Seq(pad_token_id=1, model=model)(EXAMPLES)
    np.testing.assert_array_equal(batch["decoder_input_ids"], [[3, 8, 9, 2, 1], [3, 8, 9, 4, 10]])


def test_wrong_arguments_are_refused():
    with pytest.raises(ValueError, match="prepare_decoder_input_ids_from_labels"):
        TFDataCollatorForSeq2Seq(model=object())
    with pytest.raises(ValueError, match="already have decoder_input_ids"):
        TFDataCollatorForSeq2Seq(decoder_start_token_id=2)([{**EXAMPLES[0], "decoder_input_ids": [2, 8, 9]}])


@pytest.mark.slow
def test_fit_evaluate_and_the_generating_metric_callback_on_a_seq2seq_model():
    """The BART fixture model learns to copy its sources; evaluate reports the mean loss over label tokens; the
    metric callback gets the generated tokens (decoder start first), as `generate` gives them."""
    case = Case("bart_lm")
    model = case.model_class.from_pretrained(case.path("tf_h5"))
    rng = np.random.default_rng(0)
    rows = []
    for length in rng.integers(3, 7, size=8):
        tokens = [int(t) for t in rng.integers(4, 30, size=length)] + [2]
        rows.append({"input_ids": tokens, "attention_mask": [1] * len(tokens), "labels": tokens})
    data = datasets.Dataset.from_list(rows)
    collate = TFDataCollatorForSeq2Seq(pad_token_id=1, model=model)
    train = model.prepare_tf_dataset(data, batch_size=4, shuffle=True, collate_fn=collate, seed=0)
    validation = model.prepare_tf_dataset(data, batch_size=4, shuffle=False, collate_fn=collate)
    features, labels = next(iter(validation))
    assert sorted(features) == ["attention_mask", "decoder_input_ids", "input_ids"] and labels.shape[0] == 4

    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    before = model.evaluate(validation, verbose=0, return_dict=True)["loss"]
    seen = []

    def metric_fn(eval_prediction):
        generated, labels = eval_prediction
        seen.append((generated, labels))
        return {"first_token_accuracy": float((generated[:, 1] == labels[:, 0]).mean())}

    callback = KerasMetricCallback(metric_fn, validation, predict_with_generate=True,
                                   generate_kwargs={"max_new_tokens": 4, "min_new_tokens": 4})
    history = model.fit(train, epochs=2, callbacks=[callback], verbose=0).history
    after = model.evaluate(validation, verbose=0, return_dict=True)["loss"]
    assert after < before - 0.5, (before, after)
    assert len(history["first_token_accuracy"]) == 2
    generated, labels = seen[-1]
    assert generated.shape == (8, 5) and (generated[:, 0] == model.config.decoder_start_token_id).all()
    features, _ = next(iter(validation))
    expected = model.generate(features["input_ids"], attention_mask=features["attention_mask"], max_new_tokens=4,
                              min_new_tokens=4)
    np.testing.assert_array_equal(generated[:4], expected.numpy())
    # evaluate's loss is the mean of the model's per-example losses (two batches of 4)
    losses = [float(np.mean(model({**features, "labels": labels}).loss)) for features, labels in validation]
    np.testing.assert_allclose(after, np.mean(losses), atol=1e-5)
