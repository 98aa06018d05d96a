"""Code written for the reference: boolean flags and `training` inside the input dict, eager and in tf.function."""

import numpy as np
import pytest
import tensorflow as tf

from tests.keras_integration.tiny import tiny_model

IDS = np.array([[5, 7, 9, 11], [3, 4, 6, 8]], np.int32)


@pytest.mark.parametrize("class_name", ["TFBertModel", "TFGPT2LMHeadModel"])
def test_flags_inside_the_input_dict_as_keywords(class_name):
    model = tiny_model(class_name, **({"hidden_dropout_prob": 0.5} if "Bert" in class_name else {"resid_pdrop": 0.5}))
    expected = model({"input_ids": IDS}, output_attentions=True, output_hidden_states=True, return_dict=True)
    eager = model({"input_ids": IDS, "output_attentions": True, "output_hidden_states": True, "return_dict": True})
    graph = tf.function(lambda inputs: model(inputs))(
        {"input_ids": tf.constant(IDS), "output_attentions": True, "output_hidden_states": True,
         "return_dict": True})
    for out in (eager, graph):
        assert sorted(out.keys()) == sorted(expected.keys())
        assert len(out["hidden_states"]) == 3 and len(out["attentions"]) == 2  # embeddings + 2 layers; 2 layers
        for got, want in zip(tf.nest.flatten(dict(out)), tf.nest.flatten(dict(expected))):
            np.testing.assert_allclose(np.asarray(got), np.asarray(want), atol=1e-6)
    as_tuple = tf.function(lambda inputs: model(inputs))({"input_ids": tf.constant(IDS), "return_dict": False})
    assert isinstance(as_tuple, tuple)
    # A dict entry overrides the keyword of the same name, as in the reference's input_processing.
    overridden = model({"input_ids": IDS, "output_hidden_states": False}, output_hidden_states=True)
    assert "hidden_states" not in overridden

    # `training` in the dict reaches Keras' call context: dropout is active only when it is True.
    first = model({"input_ids": IDS, "training": True})[0]
    second = model({"input_ids": IDS, "training": True})[0]
    assert float(tf.reduce_max(tf.abs(first - second))) > 1e-3
    np.testing.assert_array_equal(model({"input_ids": IDS, "training": False})[0], model({"input_ids": IDS})[0])
    in_graph = tf.function(lambda inputs: model(inputs))
    np.testing.assert_allclose(in_graph({"input_ids": tf.constant(IDS), "training": False})[0],
                               model({"input_ids": IDS})[0], atol=1e-6)
