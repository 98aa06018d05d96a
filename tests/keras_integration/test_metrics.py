"""Compiled metrics: labels of -100 are ignored by every metric (a sample weight of 0, combined with the user's
weight), and a flat metric list gives each scored output its own metric objects."""

import keras
import numpy as np
import tensorflow as tf

from keras_integration import InternalLossTrainer
from tests.keras_integration.tiny import tiny_batch, tiny_model


class CorrectTokens(keras.metrics.Metric):
    """A user's metric: it sees only y_true, y_pred and sample_weight (no Keras mask)."""

    def __init__(self, name="correct_tokens", **kwargs):
        super().__init__(name=name, **kwargs)
        self.correct = self.add_variable((), initializer="zeros", name="correct")
        self.total = self.add_variable((), initializer="zeros", name="total")

    def update_state(self, y_true, y_pred, sample_weight=None):
        hits = tf.cast(tf.equal(tf.cast(y_true, tf.int64), tf.argmax(y_pred, axis=-1)), tf.float32)
        weight = tf.ones_like(hits) if sample_weight is None else tf.cast(sample_weight, tf.float32)
        self.correct.assign_add(tf.reduce_sum(hits * weight))
        self.total.assign_add(tf.reduce_sum(weight))

    def result(self):
        return self.correct / self.total


def _active(metric, y_true, y_pred, weight=None):
    """`metric` computed by hand on the active positions only."""
    metric.update_state(y_true, y_pred, sample_weight=weight)
    return float(np.squeeze(metric.result()))  # F1Score gives one value per class: here one class


def test_minus_100_is_ignored_by_custom_and_sparse_metrics_weighted_or_not():
    batch = tiny_batch("TFBertForTokenClassification", n=8)
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    labels = batch["labels"]
    assert (labels == -100).any()
    weights = np.linspace(0.5, 2.0, 8).astype(np.float32)
    model = tiny_model("TFBertForTokenClassification")
    model.compile(optimizer=keras.optimizers.SGD(0.0),
                  metrics=[CorrectTokens(), keras.metrics.SparseCategoricalAccuracy(name="sca"),
                           keras.metrics.SparseTopKCategoricalAccuracy(k=2, name="top2")],
                  weighted_metrics=[CorrectTokens(name="weighted_correct_tokens")])
    data = tf.data.Dataset.from_tensor_slices((inputs, labels, weights)).batch(4)
    result = model.evaluate(data, verbose=0, return_dict=True)
    logits = model(inputs).logits.numpy()
    active = labels != -100
    y, p = labels[active], logits[active]
    expected = {
        "correct_tokens": _active(CorrectTokens(), y, p),
        "sca": _active(keras.metrics.SparseCategoricalAccuracy(), y, p),
        "top2": _active(keras.metrics.SparseTopKCategoricalAccuracy(k=2), y, p),
        "weighted_correct_tokens": _active(CorrectTokens(), y, p, np.broadcast_to(weights[:, None], labels.shape)
                                           [active]),
    }
    for name, value in expected.items():
        np.testing.assert_allclose(result[name], value, rtol=1e-5, err_msg=name)
    every_position = _active(CorrectTokens(), np.maximum(labels, 0).ravel(), logits.reshape(-1, 3))
    assert abs(result["correct_tokens"] - every_position) > 1e-3  # -100 positions would change the value


class BinaryClassifier(InternalLossTrainer, keras.Model):
    """A yes/no classifier of the first token: probabilities `[batch, 1]`, labels `[batch, 1]` of 0/1 or -100."""

    def __init__(self):
        super().__init__()
        self.embed = keras.layers.Embedding(50, 4)
        self.dense = keras.layers.Dense(1, activation="sigmoid")

    def call(self, input_ids, labels=None, training=False):
        if isinstance(input_ids, dict):
            input_ids, labels = input_ids["input_ids"], input_ids.get("labels", labels)
        probabilities = self.dense(self.embed(input_ids)[:, 0])
        outputs = {"probabilities": probabilities}
        if labels is not None:
            active = tf.cast(labels != -100, tf.float32)[:, 0]
            target = tf.cast(tf.maximum(labels, 0), tf.float32)
            outputs["loss"] = keras.losses.binary_crossentropy(target, probabilities) * active
        return outputs


def test_minus_100_is_ignored_by_precision_recall_auc_and_f1():
    rng = np.random.default_rng(0)
    ids = rng.integers(0, 50, (64, 3)).astype(np.int32)
    labels = np.where(rng.random((64, 1)) < 0.3, -100, ids[:, :1] % 2).astype(np.int32)
    keras.utils.set_random_seed(0)
    model = BinaryClassifier()
    metrics = {"precision": lambda: keras.metrics.Precision(name="precision"),
               "recall": lambda: keras.metrics.Recall(name="recall"),
               "auc": lambda: keras.metrics.AUC(name="auc"),
               "f1": lambda: keras.metrics.F1Score(threshold=0.5, name="f1")}
    model.compile(optimizer=keras.optimizers.SGD(0.0), loss="auto", metrics=[make() for make in metrics.values()])
    result = model.evaluate({"input_ids": ids, "labels": labels}, batch_size=16, verbose=0, return_dict=True)
    probabilities = model({"input_ids": ids})["probabilities"].numpy()
    active = labels[:, 0] != -100
    y, p = labels[active].astype(np.float32), probabilities[active]
    for name, make in metrics.items():
        np.testing.assert_allclose(np.squeeze(result[name]), _active(make(), y, p), rtol=1e-5, err_msg=name)
    counted = _active(keras.metrics.Precision(), np.maximum(labels, 0).astype(np.float32), probabilities)
    assert abs(result["precision"] - counted) > 1e-3  # counting the -100 examples would change the value


def test_a_metric_object_is_not_shared_between_the_start_and_end_outputs():
    model = tiny_model("TFBertForQuestionAnswering")
    batch = tiny_batch("TFBertForQuestionAnswering")
    given = keras.metrics.SparseCategoricalAccuracy(name="acc")
    model.compile(optimizer=keras.optimizers.SGD(0.0), metrics=[given, CorrectTokens()])
    result = model.evaluate(tf.data.Dataset.from_tensor_slices(batch).batch(8), verbose=0, return_dict=True)
    assert sorted(result) == ["end_logits_acc", "end_logits_correct_tokens", "loss", "start_logits_acc",
                              "start_logits_correct_tokens"]
    out = model({k: v for k, v in batch.items() if "positions" not in k})
    start = np.mean(np.argmax(out.start_logits, -1) == batch["start_positions"])
    end = np.mean(np.argmax(out.end_logits, -1) == batch["end_positions"])
    assert start != end  # a shared metric object would report the same (pooled) value twice
    for name, value in (("start_logits", start), ("end_logits", end)):
        np.testing.assert_allclose(result[f"{name}_acc"], value, rtol=1e-6)
        np.testing.assert_allclose(result[f"{name}_correct_tokens"], value, rtol=1e-6)
    assert float(given.count) == 0  # the user's object was copied for each output, never updated itself
