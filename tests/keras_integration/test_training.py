"""compile / fit / evaluate / predict on the model's own loss, for every head."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_integration.training import label_names
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
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="auto")
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
        model.compile(optimizer=keras.optimizers.Adam(1e-2), metrics=["accuracy"])
        histories[name] = model.fit(data.batch(8), validation_data=data.batch(8), epochs=2, verbose=0).history
    reference = histories["dict"]
    assert sorted(reference) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    for name, history in histories.items():
        assert sorted(history) == sorted(reference), name
        np.testing.assert_allclose(history["loss"], reference["loss"], rtol=1e-5, err_msg=name)


def test_sample_weights_weight_the_internal_loss():
    batch = tiny_batch("TFBertForSequenceClassification", n=8)
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    weights = np.array([1, 0, 1, 0, 1, 0, 1, 0], np.float32)
    model = tiny_model("TFBertForSequenceClassification")
    model.compile(optimizer=keras.optimizers.SGD(0.0))
    data = tf.data.Dataset.from_tensor_slices((inputs, batch["labels"], weights)).batch(8)
    loss = model.evaluate(data, verbose=0, return_dict=True)["loss"]
    per_example = model({**inputs, "labels": batch["labels"]}).loss.numpy()
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


@pytest.mark.parametrize("class_name", ["TFBertForSequenceClassification", "TFGPT2LMHeadModel"])
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
        model.compile(optimizer=keras.optimizers.Adam(1e-2))
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
