"""KerasMetricCallback and resumable training checkpoints. The tiny BERTs train eagerly: the callbacks are what is
checked, and tracing a training step costs more than their few steps."""

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
    model.compile(optimizer=keras.optimizers.Adam(1e-2), run_eagerly=True)
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
    model.compile(optimizer="sgd", run_eagerly=True)
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
        model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="auto", run_eagerly=True)
        return model

    uninterrupted = fresh()
    uninterrupted.fit(data, epochs=4, verbose=0)

    first = fresh()
    first.fit(data, epochs=2, verbose=0, callbacks=[TrainingCheckpoint(str(tmp_path / "checkpoint"))])
    resumed = fresh()
    state = resumed.load_repo_checkpoint(str(tmp_path))
    assert state["epoch"] == 1 and sorted(state["history"]) == ["loss"] and len(state["history"]["loss"]) == 2
    resumed.fit(data, epochs=4, initial_epoch=state["epoch"] + 1, verbose=0)
    for a, b in zip(uninterrupted.weights, resumed.weights):
        np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-5, err_msg=a.path)
    assert int(resumed.optimizer.iterations.numpy()) == int(uninterrupted.optimizer.iterations.numpy()) == 12

    uncompiled = tiny_model("TFBertForSequenceClassification")
    with pytest.raises(RuntimeError, match="Compile"):
        uncompiled.load_repo_checkpoint(str(tmp_path))
    with pytest.raises(FileNotFoundError, match="not a training checkpoint"):
        resumed.load_repo_checkpoint(str(tmp_path / "nowhere"))


class _Stack(keras.Model):
    """Dense layers of fixed names, created in the order given: variable paths stay, their order changes."""

    def __init__(self, names=("first", "second"), units=4, **kwargs):
        super().__init__(name="stack", **kwargs)
        self.stack = [keras.layers.Dense(units, name=name) for name in names]

    def call(self, x):
        for name in sorted(layer.name for layer in self.stack):
            x = self.get_layer(name)(x)
        return x


def _compiled_stack(optimizer=None, **kwargs):
    keras.utils.set_random_seed(1)
    model = _Stack(**kwargs)
    model.compile(optimizer=optimizer or keras.optimizers.Adam(1e-2), loss="mse")
    model(np.zeros((1, 4), "float32"))
    return model


def test_optimizer_state_is_restored_by_variable_path_not_position(tmp_path):
    from keras_integration import load_training_checkpoint, save_training_checkpoint

    x = np.random.default_rng(0).normal(size=(8, 4)).astype("float32")
    y = np.random.default_rng(1).normal(size=(8, 4)).astype("float32")
    saved = _compiled_stack()
    saved.fit(x, y, batch_size=4, epochs=2, verbose=0)
    save_training_checkpoint(saved, str(tmp_path / "ckpt"), epoch=1)

    reordered = _compiled_stack(names=("second", "first"), optimizer=keras.optimizers.Adam(1e-2, name="renamed"))
    assert [v.path for v in reordered.trainable_variables] != [v.path for v in saved.trainable_variables]
    assert load_training_checkpoint(reordered, str(tmp_path / "ckpt")) == {"epoch": 1, "history": {}}
    # `adam/stack_first_kernel_momentum` and `renamed/stack_first_kernel_momentum` hold the same state.
    saved_state = {v.path.split("/", 1)[1]: v.numpy() for v in saved.optimizer.variables}
    assert len(saved_state) == len(reordered.optimizer.variables) == 10
    for variable in reordered.optimizer.variables:
        np.testing.assert_array_equal(variable.numpy(), saved_state[variable.path.split("/", 1)[1]],
                                      err_msg=variable.path)
    # Both continue identically: the Adam moments went to the variables they belong to.
    for model in (saved, reordered):
        model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    reordered_weights = {v.path: v.numpy() for v in reordered.weights}
    for variable in saved.weights:
        np.testing.assert_allclose(variable.numpy(), reordered_weights[variable.path], atol=1e-6, rtol=0)

    frozen = _Stack()
    frozen(np.zeros((1, 4), "float32"))
    frozen.get_layer("second").trainable = False
    frozen.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    for other, message in ((_compiled_stack(names=("first", "second", "third")),
                            r"weights .*: 2 of its variables have no saved value \(first: \['stack/third/kernel'"),
                           (frozen, r"optimizer states .*: 4 saved values belong to no variable \(first: "
                                    r"\['stack_second_kernel_momentum'"),
                           (_compiled_stack(optimizer=keras.optimizers.SGD(1e-2, momentum=0.9)),
                            r"optimizer states .*: 4 saved values belong to no variable \(first: "
                            r"\['stack_first_kernel_velocity'"),
                           (_compiled_stack(units=5), r"weights .* other shapes .*\('stack/first/kernel', \(4, 5\), "
                                                      r"\(4, 4\)\)")):
        before = [v.numpy() for v in other.weights]
        with pytest.raises(ValueError, match=message):
            load_training_checkpoint(other, str(tmp_path / "ckpt"))
        for old, variable in zip(before, other.weights):  # refused before anything was assigned
            np.testing.assert_array_equal(old, variable.numpy())
