"""keras_integration works on any Keras model that follows the protocol, and never imports tfmodels."""

import os
import subprocess
import sys

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_integration import InternalLossTrainer, label_names, label_to_output_map

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class TinyClassifier(InternalLossTrainer, keras.Model):
    """A plain Keras model: the first token's embedding, a dense layer, and its own loss when given labels."""

    def __init__(self):
        super().__init__()
        self.embed = keras.layers.Embedding(20, 8)
        self.dense = keras.layers.Dense(2)

    def call(self, input_ids, labels=None, training=False):
        if isinstance(input_ids, dict):  # the protocol: a dict of inputs (and labels) may come as first argument
            input_ids, labels = input_ids["input_ids"], input_ids.get("labels", labels)
        logits = self.dense(self.embed(input_ids)[:, 0])
        outputs = {"logits": logits}
        if labels is not None:
            outputs["loss"] = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=labels, logits=logits)
        return outputs


def test_a_plain_keras_model_trains_on_its_own_loss():
    keras.utils.set_random_seed(0)
    model = TinyClassifier()
    assert label_names(model) == ["labels"] and label_to_output_map(model) == {"labels": "logits"}
    ids = np.random.default_rng(0).integers(0, 20, (64, 5)).astype(np.int32)
    labels = (ids[:, 0] < 10).astype(np.int32)
    data = tf.data.Dataset.from_tensor_slices({"input_ids": ids, "labels": labels}).batch(16)
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss="auto", metrics=["accuracy"])
    history = model.fit(data, epochs=15, verbose=0).history
    assert history["loss"][-1] < 0.5 * history["loss"][0]
    assert history["accuracy"][-1] > 0.9
    assert list(model.predict(data, verbose=0)) == ["logits"]


def test_keras_integration_and_serving_never_import_tfmodels():
    code = "import sys, keras_integration, serving; print('tfmodels' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "False"


class TwoScores(InternalLossTrainer, keras.Model):
    """Two labels whose outputs no usual name tells apart."""

    def call(self, input_ids, first_label=None, second_label=None, training=False):
        return {}


def test_label_to_output_map_follows_the_outputs_the_model_returns():
    model = TinyClassifier()
    assert label_to_output_map(model, ["loss", "scores", "hidden_states", "past_key_values"]) == {"labels": "scores"}
    two = TwoScores()
    assert label_to_output_map(two, ["first_label", "second_label"]) == {"first_label": "first_label",
                                                                          "second_label": "second_label"}
    with pytest.raises(ValueError, match=r"cannot tell which of the outputs \['a', 'b'\] the labels "
                                         r"\['first_label', 'second_label'\] score"):
        label_to_output_map(two, ["loss", "a", "b"])
