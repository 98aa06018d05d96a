"""KerasMetricCallback and resumable training checkpoints."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_integration import KerasMetricCallback, TrainingCheckpoint
from tests.keras_integration.tiny import tiny_batch, tiny_model


def _data(class_name, n=16, batch_size=8):
    return tf.data.Dataset.from_tensor_slices(tiny_batch(class_name, n=n)).batch(batch_size)


def test_metric_callback_values_reach_logs_history_and_early_stopping():
    model = tiny_model("TFBertForSequenceClassification")
    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    evaluation = _data("TFBertForSequenceClassification", n=12, batch_size=5)
    seen = []

    def accuracy(eval_prediction):
        logits, labels = eval_prediction
        seen.append((logits.shape, labels.shape))
        return {"fn_accuracy": float(np.mean(np.argmax(logits, -1) == labels))}

    stopper = keras.callbacks.EarlyStopping(monitor="fn_accuracy", mode="max", patience=0)
    history = model.fit(_data("TFBertForSequenceClassification"), epochs=6, verbose=0,
                        callbacks=[KerasMetricCallback(accuracy, evaluation), stopper]).history
    assert seen[0] == ((12, 3), (12,))
    assert len(history["fn_accuracy"]) == len(history["loss"]) >= 2
    batch = tiny_batch("TFBertForSequenceClassification", n=12)
    logits = model({k: v for k, v in batch.items() if k != "labels"}).logits
    assert history["fn_accuracy"][-1] == pytest.approx(np.mean(np.argmax(logits, -1) == batch["labels"]))


def test_metric_callback_on_token_labels_of_different_lengths():
    model = tiny_model("TFBertForTokenClassification")
    model.compile(optimizer="sgd")
    batch = tiny_batch("TFBertForTokenClassification", n=4, seq=6)
    other = tiny_batch("TFBertForTokenClassification", n=4, seq=9, seed=1)
    data = tf.data.Dataset.from_tensor_slices(batch).batch(4).concatenate(
        tf.data.Dataset.from_tensor_slices(other).batch(4))
    shapes = []

    def metric(eval_prediction):
        logits, labels = eval_prediction
        shapes.append((logits.shape, labels.shape))
        active = labels != -100
        return {"token_accuracy": float(np.mean(np.argmax(logits, -1)[active] == labels[active]))}

    history = model.fit(data, epochs=1, verbose=0, callbacks=[KerasMetricCallback(metric, data)]).history
    assert shapes == [((8, 9, 3), (8, 9))] and 0 <= history["token_accuracy"][0] <= 1


def test_resumed_training_equals_uninterrupted_training(tmp_path):
    data = _data("TFBertForSequenceClassification", n=24)

    def fresh():
        keras.utils.set_random_seed(0)
        model = tiny_model("TFBertForSequenceClassification")
        model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="auto")
        return model

    uninterrupted = fresh()
    uninterrupted.fit(data, epochs=4, verbose=0)

    first = fresh()
    first.fit(data, epochs=2, verbose=0, callbacks=[TrainingCheckpoint(str(tmp_path / "checkpoint"))])
    resumed = fresh()
    state = resumed.load_repo_checkpoint(str(tmp_path))
    assert state == {"epoch": 1}
    resumed.fit(data, epochs=4, initial_epoch=state["epoch"] + 1, verbose=0)
    for a, b in zip(uninterrupted.weights, resumed.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-5, err_msg=a.path)
    assert int(resumed.optimizer.iterations.numpy()) == int(uninterrupted.optimizer.iterations.numpy()) == 12

    uncompiled = tiny_model("TFBertForSequenceClassification")
    with pytest.raises(RuntimeError, match="Compile"):
        uncompiled.load_repo_checkpoint(str(tmp_path))
    with pytest.raises(FileNotFoundError, match="not a training checkpoint"):
        resumed.load_repo_checkpoint(str(tmp_path / "nowhere"))
