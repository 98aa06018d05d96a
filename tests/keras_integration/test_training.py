"""compile / fit / evaluate / predict on the model's own loss, for every head."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_integration.training import InternalLossTrainer, label_names, label_to_output_map
from tests.keras_integration.tiny import HEADS, tiny_batch, tiny_model


def _dataset(batch, batch_size=8):
    return tf.data.Dataset.from_tensor_slices(batch).batch(batch_size)


def _hand_loss(model, batch, batch_size=8):
    """The mean over batches of the model's own loss, computed by calling the model."""
    n = len(batch["input_ids"])
    losses = [float(np.mean(model({k: v[i:i + batch_size] for k, v in batch.items()}).loss))
              for i in range(0, n, batch_size)]
    return float(np.mean(losses))


@pytest.mark.parametrize("class_name", HEADS)
def test_fit_evaluate_predict_every_head(class_name):
    keras.utils.set_random_seed(0)
    model = tiny_model(class_name)
    batch = tiny_batch(class_name)
    data = _dataset(batch)
    model.compile(optimizer=keras.optimizers.SGD(0.2), loss="auto")  # Adam's traced update costs seconds a model
    history = model.fit(data, epochs=4, verbose=0).history
    assert list(history) == ["loss"] and len(history["loss"]) == 4
    assert history["loss"][-1] < history["loss"][0]  # learnable toy labels: the loss goes down
    evaluated = model.evaluate(data, verbose=0, return_dict=True)
    np.testing.assert_allclose(evaluated["loss"], _hand_loss(model, batch), rtol=1e-5)
    predictions = model.predict(data, verbose=0)
    assert "loss" not in predictions and predictions
    inputs = {k: v for k, v in batch.items() if k not in label_names(model)}
    first = next(iter(predictions))
    np.testing.assert_allclose(predictions[first], model(inputs)[first], atol=1e-5)
    assert "loss" not in model(inputs)


def test_history_loss_is_the_true_mean_of_the_batch_losses():
    # Keras pitfall 1: a train_step that returns its own "loss" is overwritten by the loss tracker. With a zero
    # learning rate the weights stay put, so the history must equal the mean of the per-batch losses by hand.
    model = tiny_model("TFBertForTokenClassification")
    batch = tiny_batch("TFBertForTokenClassification", n=24)
    model.compile(optimizer=keras.optimizers.SGD(0.0))
    history = model.fit(_dataset(batch), epochs=2, verbose=0).history
    expected = _hand_loss(model, batch)
    assert expected > 0.5
    np.testing.assert_allclose(history["loss"], [expected, expected], rtol=1e-5)


def test_labels_in_dict_tuple_or_separate_give_the_same_history():
    batch = tiny_batch("TFBertForSequenceClassification")
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    forms = {
        "dict": tf.data.Dataset.from_tensor_slices(batch),
        "tensor_y": tf.data.Dataset.from_tensor_slices((inputs, batch["labels"])),
        "dict_y": tf.data.Dataset.from_tensor_slices((inputs, {"labels": batch["labels"]})),
        "output_named_y": tf.data.Dataset.from_tensor_slices((inputs, {"logits": batch["labels"]})),
    }
    histories = {}
    for name, data in forms.items():
        keras.utils.set_random_seed(0)
        model = tiny_model("TFBertForSequenceClassification")
        # The other forms eagerly (the same unpacking and loss as in a graph; each trace costs seconds): the same
        # history from both is the stronger check.
        model.compile(optimizer=keras.optimizers.Adam(1e-2), metrics=["accuracy"], run_eagerly=name != "dict")
        histories[name] = model.fit(data.batch(8), validation_data=data.batch(8), epochs=2, verbose=0).history
    reference = histories["dict"]
    assert sorted(reference) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    for name, history in histories.items():
        assert sorted(history) == sorted(reference), name
        np.testing.assert_allclose(history["loss"], reference["loss"], rtol=1e-5, err_msg=name)


def _weighted_evaluate(class_name, weights):
    """`evaluate` of an untrained tiny model on 8 `(inputs, labels, weights)` rows: (loss, model, inputs, labels)."""
    batch = tiny_batch(class_name, n=8)
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    model = tiny_model(class_name)
    model.compile(optimizer=keras.optimizers.SGD(0.0))
    data = tf.data.Dataset.from_tensor_slices((inputs, batch["labels"], weights)).batch(8)
    return model.evaluate(data, verbose=0, return_dict=True)["loss"], model, inputs, batch["labels"]


def test_sample_weights_weight_the_internal_loss():
    weights = np.array([1, 0, 1, 0, 1, 0, 1, 0], np.float32)
    loss, model, inputs, labels = _weighted_evaluate("TFBertForSequenceClassification", weights)
    per_example = model({**inputs, "labels": labels}).loss.numpy()
    np.testing.assert_allclose(loss, np.mean(per_example * weights), rtol=1e-5)


def test_metrics_match_outputs_and_ignore_minus_100():
    model = tiny_model("TFBertForTokenClassification")
    batch = tiny_batch("TFBertForTokenClassification", n=16)
    model.compile(optimizer=keras.optimizers.SGD(0.0), metrics=["accuracy"])
    result = model.evaluate(_dataset(batch, 16), verbose=0, return_dict=True)
    predicted = np.argmax(model({k: v for k, v in batch.items() if k != "labels"}).logits, axis=-1)
    active = batch["labels"] != -100
    np.testing.assert_allclose(result["accuracy"], np.mean(predicted[active] == batch["labels"][active]), rtol=1e-6)

    qa = tiny_model("TFBertForQuestionAnswering")
    qa_batch = tiny_batch("TFBertForQuestionAnswering")
    qa.compile(optimizer=keras.optimizers.SGD(0.0), metrics=["accuracy"])
    result = qa.evaluate(_dataset(qa_batch, 16), verbose=0, return_dict=True)
    assert sorted(result) == ["end_logits_accuracy", "loss", "start_logits_accuracy"]
    start = np.argmax(qa({k: v for k, v in qa_batch.items() if "positions" not in k}).start_logits, axis=-1)
    np.testing.assert_allclose(result["start_logits_accuracy"], np.mean(start == qa_batch["start_positions"]))


def test_a_keras_loss_is_applied_to_the_matched_output():
    batch = tiny_batch("TFBertForSequenceClassification")
    model = tiny_model("TFBertForSequenceClassification")
    model.compile(optimizer=keras.optimizers.SGD(0.0),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    loss = model.evaluate(_dataset(batch, 16), verbose=0, return_dict=True)["loss"]
    internal = np.mean(model(batch).loss)
    np.testing.assert_allclose(loss, internal, rtol=1e-5)


def test_missing_labels_are_a_clear_error():
    model = tiny_model("TFBertForSequenceClassification")
    model.compile(optimizer="sgd", loss="auto")
    inputs = {k: v for k, v in tiny_batch("TFBertForSequenceClassification").items() if k != "labels"}
    with pytest.raises(ValueError, match="returned no loss.*labels"):
        model.fit(tf.data.Dataset.from_tensor_slices(inputs).batch(8), verbose=0)


@pytest.mark.parametrize("class_name", ["TFGPT2LMHeadModel"])  # an XLA compilation of training: ~40 s a model
def test_jit_compile_gives_the_same_loss(class_name):
    batch = tiny_batch(class_name)
    histories = []
    for jit in (False, True):
        keras.utils.set_random_seed(0)
        model = tiny_model(class_name)
        model.compile(optimizer=keras.optimizers.Adam(1e-2), jit_compile=jit)
        histories.append(model.fit(_dataset(batch), epochs=2, verbose=0).history["loss"])
    np.testing.assert_allclose(histories[1], histories[0], rtol=1e-4)


@pytest.mark.parametrize("policy", ["mixed_float16", "mixed_bfloat16"])
def test_mixed_precision_trains_with_float32_loss_logits_and_checkpoint(policy, tmp_path):
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        keras.utils.set_random_seed(0)
        model = tiny_model("TFBertForSequenceClassification")
        batch = tiny_batch("TFBertForSequenceClassification")
        model.compile(optimizer=keras.optimizers.SGD(0.5))  # Adam's traced update costs seconds a model
        if policy == "mixed_float16":
            assert isinstance(model.optimizer, keras.optimizers.LossScaleOptimizer)
        history = model.fit(_dataset(batch), epochs=3, verbose=0).history["loss"]
        assert np.all(np.isfinite(history)) and history[-1] < history[0]
        out = model(batch)
        assert out.logits.dtype == tf.float32 and out.loss.dtype == tf.float32
        model.save_pretrained(tmp_path)
    finally:
        keras.config.set_dtype_policy(previous)
    import h5py

    with h5py.File(tmp_path / "tf_model.h5") as handle:
        dtypes = set()
        handle.visititems(lambda name, item: dtypes.add(item.dtype) if isinstance(item, h5py.Dataset) else None)
    assert dtypes == {np.dtype("float32")}


CLASSES = ["TFBertModel", "TFGPT2Model"] + HEADS


@pytest.mark.parametrize("class_name", CLASSES)
def test_compile_metrics_and_fit_with_a_dict_of_labels_and_sample_weights_for_every_class(class_name):
    # fit(x, y=<dict of labels>, sample_weight=w): Keras repeats w once per label. With a zero learning rate the
    # history must equal the weighted loss and the accuracy computed by hand, for every head (the next-sentence
    # head's label scores its `logits`, the pre-training head's labels two outputs).
    batch = tiny_batch(class_name)
    model = tiny_model(class_name)
    labels = {name: batch[name] for name in label_names(model)}
    inputs = {k: v for k, v in batch.items() if k not in labels}
    weights = np.linspace(0.1, 2.0, len(batch["input_ids"])).astype(np.float32)
    base = not labels
    if base:  # no label argument: a Keras loss scores the first output against y
        labels = np.zeros_like(model(inputs)["last_hidden_state"])
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="mse" if base else "auto",
                  metrics=["mae"] if base else ["accuracy"])
    history = model.fit(inputs, y=labels, sample_weight=weights, batch_size=8, epochs=1, shuffle=False,
                        verbose=0).history
    out = model(inputs)
    if base:
        hidden = out["last_hidden_state"].numpy()
        expected_loss = np.mean([np.mean(weights[i:i + 8, None] * np.mean(hidden[i:i + 8] ** 2, -1))
                                 for i in (0, 8)])
        np.testing.assert_allclose(history["mae"], [np.mean(np.abs(hidden))], rtol=1e-5)
    else:
        per_batch = [np.mean(weights[i:i + 8] * model({**{k: v[i:i + 8] for k, v in batch.items()}}).loss.numpy())
                     for i in (0, 8)]
        expected_loss = np.mean(per_batch)
        to_output = label_to_output_map(model, list(out))
        for label, output in to_output.items():
            name = "accuracy" if len(to_output) == 1 else f"{output}_accuracy"
            active = labels[label] != -100
            correct = np.argmax(out[output].numpy(), axis=-1) == labels[label]
            np.testing.assert_allclose(history[name], [np.mean(correct[active])], rtol=1e-5, err_msg=name)
    np.testing.assert_allclose(history["loss"], [expected_loss], rtol=1e-5)


def test_sample_weights_apply_to_token_level_losses():
    # A weight per example multiplies that example's tokens: sum_b w_b sum_t loss_bt / labelled tokens.
    weights = np.array([1, 0, 2, 0, 1, 0.5, 1, 0], np.float32)
    loss, model, inputs, labels = _weighted_evaluate("TFBertForTokenClassification", weights)
    logits = model(inputs).logits.numpy()
    active = labels != -100
    log_probs = logits - np.log(np.sum(np.exp(logits), -1, keepdims=True))
    token_loss = -np.take_along_axis(log_probs, np.maximum(labels, 0)[..., None], -1)[..., 0] * active
    np.testing.assert_allclose(loss, np.sum(weights[:, None] * token_loss) / active.sum(), rtol=1e-5)
    unweighted = model.evaluate(tf.data.Dataset.from_tensor_slices((inputs, labels)).batch(8), verbose=0,
                                return_dict=True)
    np.testing.assert_allclose(unweighted["loss"], token_loss.sum() / active.sum(), rtol=1e-5)


def test_a_loss_for_the_whole_batch_with_sample_weights_is_a_clear_error():
    class OneLoss(InternalLossTrainer, keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = keras.layers.Dense(2)

        def call(self, features, labels=None, training=False):
            features, labels = features["features"], features.get("labels", labels)
            logits = self.dense(features)
            loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits))
            return {"loss": tf.reshape(loss, (1,)), "logits": logits}

    model = OneLoss()
    model.compile(optimizer="sgd", loss="auto")
    x = {"features": np.ones((4, 3), np.float32)}
    with pytest.raises(ValueError, match=r"loss of shape \(1,\), one value for the whole batch.*Return one loss"):
        model.fit(x, np.array([0, 1, 0, 1]), sample_weight=np.ones(4, np.float32), verbose=0)


def test_per_position_sample_weights_with_the_internal_loss_are_a_clear_error():
    batch = tiny_batch("TFBertForTokenClassification", n=4)
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    model = tiny_model("TFBertForTokenClassification")
    model.compile(optimizer=keras.optimizers.SGD(0.0))
    per_token = np.ones(batch["labels"].shape, np.float32)
    with pytest.raises(ValueError, match=r"weight per position.*one\s+weight per example"):
        model.fit(inputs, batch["labels"], sample_weight=per_token, verbose=0)


def test_different_sample_weights_per_label_with_the_internal_loss_are_refused():
    batch = tiny_batch("TFBertForQuestionAnswering", n=4)
    inputs = {k: v for k, v in batch.items() if k not in ("start_positions", "end_positions")}
    labels = {"start_positions": batch["start_positions"], "end_positions": batch["end_positions"]}
    model = tiny_model("TFBertForQuestionAnswering")
    model.compile(optimizer=keras.optimizers.SGD(0.0))
    same = np.array([1, 0, 2, 1], np.float32)
    data = tf.data.Dataset.from_tensor_slices((inputs, labels, {"start_positions": same, "end_positions": same}))
    weighted = model.evaluate(data.batch(4), verbose=0, return_dict=True)["loss"]
    np.testing.assert_allclose(weighted, np.mean(same * model({**inputs, **labels}).loss.numpy()), rtol=1e-5)
    different = {"start_positions": same, "end_positions": same[::-1].copy()}
    data = tf.data.Dataset.from_tensor_slices((inputs, labels, different)).batch(4)
    with pytest.raises(tf.errors.InvalidArgumentError, match="Different sample weights per label"):
        model.evaluate(data, verbose=0)
