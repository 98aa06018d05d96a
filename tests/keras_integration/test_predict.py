"""predict() and KerasMetricCallback on a causal LM: logits (and hidden states when asked), never the key/value
cache unless the inputs ask for it; metric_fn receives (predictions, labels)."""

import keras
import numpy as np
import tensorflow as tf

from keras_integration import KerasMetricCallback
from tests.keras_integration.tiny import tiny_batch, tiny_model


def _lm(**overrides):
    keras.utils.set_random_seed(0)
    model = tiny_model("TFGPT2LMHeadModel", **overrides)
    assert model.config.use_cache  # GPT-2's default: a forward pass returns the cache unless told otherwise
    return model


def test_predict_on_a_causal_lm_returns_logits_and_hidden_states_not_the_cache():
    batch = tiny_batch("TFGPT2LMHeadModel", n=6)
    inputs = {"input_ids": batch["input_ids"], "attention_mask": batch["attention_mask"]}
    model = _lm()
    data = tf.data.Dataset.from_tensor_slices(batch).batch(4)  # two batches: 4 + 2 rows
    predictions = model.predict(data, verbose=0)
    assert list(predictions) == ["logits"]
    np.testing.assert_allclose(predictions["logits"], model(inputs).logits, atol=1e-5)

    model = _lm(output_hidden_states=True, output_attentions=True)
    predictions = model.predict(data, verbose=0)
    assert list(predictions) == ["logits", "hidden_states", "attentions"]
    out = model(inputs)
    assert len(predictions["hidden_states"]) == 3 and predictions["hidden_states"][0].shape == (6, 10, 16)
    for name in ("hidden_states", "attentions"):
        for got, expected in zip(predictions[name], out[name]):
            np.testing.assert_allclose(got, expected, atol=1e-5, err_msg=name)


def test_the_cache_comes_back_only_when_the_inputs_ask_for_it():
    model = _lm()
    ids = tiny_batch("TFGPT2LMHeadModel", n=2)["input_ids"]
    assert list(model.predict_on_batch({"input_ids": ids})) == ["logits"]
    asked = model.predict_on_batch({"input_ids": ids, "use_cache": True})
    assert sorted(asked) == ["logits", "past_key_values"]
    expected = model({"input_ids": ids}, use_cache=True).past_key_values
    assert len(asked["past_key_values"]) == 2
    for got, reference in zip(asked["past_key_values"], expected):
        np.testing.assert_allclose(got, reference, atol=1e-5)


def test_metric_callback_on_a_causal_lm_receives_logits_and_labels():
    model = _lm()
    model.compile(optimizer=keras.optimizers.SGD(0.0))
    batch = tiny_batch("TFGPT2LMHeadModel", n=6)
    data = tf.data.Dataset.from_tensor_slices(batch).batch(4)
    received = []

    def next_token_accuracy(eval_prediction):
        logits, labels = eval_prediction
        received.append((type(logits), logits.shape, labels.shape))
        return {"next_token_accuracy": float(np.mean(np.argmax(logits[:, :-1], -1) == labels[:, 1:]))}

    history = model.fit(data, epochs=1, verbose=0, callbacks=[KerasMetricCallback(next_token_accuracy, data)]).history
    assert received == [(np.ndarray, (6, 10, 50), (6, 10))]
    logits = model({k: v for k, v in batch.items() if k != "labels"}).logits.numpy()
    expected = np.mean(np.argmax(logits[:, :-1], -1) == batch["labels"][:, 1:])
    np.testing.assert_allclose(history["next_token_accuracy"], [expected], rtol=1e-6)
