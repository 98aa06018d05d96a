"""KerasMetricCallback(predict_with_generate=True): metric_fn receives `model.generate`'s tokens (eager, or compiled
with `use_xla_generation`), with `generate_kwargs`, for any model with a `generate` method."""

from __future__ import annotations

import os

import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_integration import KerasMetricCallback
from tests.helpers import Case

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("use_xla_generation", [False, True])
def test_metric_fn_receives_the_generated_tokens(use_xla_generation):
    case = Case("gpt2_lm")
    data = np.load(os.path.join(case.root, "io.npz"))
    ids, mask, expected = data["gen.input_ids"], data["gen.attention_mask"], data["gen.pt.greedy"]
    model = case.model_class.from_pretrained(case.path("pt_safetensors"))
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.0))  # weights unchanged: reference tokens
    seen = []

    def metric_fn(eval_prediction):
        generated, labels = eval_prediction
        seen.append((generated, labels))
        return {"exact_prefix": float((generated[:, : labels.shape[1]] == labels).mean())}

    evaluation = tf.data.Dataset.from_tensor_slices({"input_ids": ids, "attention_mask": mask, "labels": ids})
    callback = KerasMetricCallback(metric_fn, evaluation.batch(1), predict_with_generate=True,
                                   generate_kwargs={"max_new_tokens": 8, "min_new_tokens": 8},
                                   use_xla_generation=use_xla_generation)
    train = tf.data.Dataset.from_tensor_slices({"input_ids": ids, "labels": ids}).batch(2)
    history = model.fit(train, epochs=1, callbacks=[callback], verbose=0).history
    generated, labels = seen[0]
    np.testing.assert_array_equal(generated, expected)  # one batch per row, joined
    np.testing.assert_array_equal(labels, ids)
    assert history["exact_prefix"] == [1.0]


def test_generate_kwargs_need_predict_with_generate():
    with pytest.raises(ValueError, match="generate_kwargs and use_xla_generation need predict_with_generate=True"):
        KerasMetricCallback(lambda p: {}, tf.data.Dataset.from_tensors({"x": [1]}), generate_kwargs={"a": 1})
