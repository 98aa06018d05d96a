"""The causal-LM collator: labels from input_ids with -100 on padding, through prepare_tf_dataset into fit (a
Llama-shaped model under mixed_bfloat16)."""

import datasets
import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_integration import TFDataCollatorForLanguageModeling, prepare_tf_dataset
from tests.tfmodels.models.model_checks import tiny_model


def test_labels_copy_the_ids_with_minus_100_on_padding():
    collate = TFDataCollatorForLanguageModeling(pad_token_id=0)
    batch = collate([{"input_ids": [5, 6, 7]}, {"input_ids": [8]}])
    np.testing.assert_array_equal(batch["input_ids"], [[5, 6, 7], [8, 0, 0]])
    np.testing.assert_array_equal(batch["attention_mask"], [[1, 1, 1], [1, 0, 0]])
    np.testing.assert_array_equal(batch["labels"], [[5, 6, 7], [8, -100, -100]])
    assert {k: v.dtype for k, v in batch.items()} == {k: np.dtype(np.int32) for k in batch}


def test_a_padding_id_that_is_also_text_is_learned_where_it_is_text():
    # GPT-2 style: padding with the end-of-text id 2, which also ends the first (real) text.
    collate = TFDataCollatorForLanguageModeling(pad_token_id=2, pad_to_multiple_of=4)
    batch = collate([{"input_ids": [5, 6, 2], "attention_mask": [1, 1, 1]},
                     {"input_ids": [2, 2, 8], "attention_mask": [0, 0, 1]}])  # left-padded by the tokenizer
    np.testing.assert_array_equal(batch["input_ids"], [[5, 6, 2, 2], [2, 2, 8, 2]])
    np.testing.assert_array_equal(batch["attention_mask"], [[1, 1, 1, 0], [0, 0, 1, 0]])
    np.testing.assert_array_equal(batch["labels"], [[5, 6, 2, -100], [-100, -100, 8, -100]])


def test_errors():
    with pytest.raises(ValueError, match=r"causal language modelling only \(mlm=False\)"):
        TFDataCollatorForLanguageModeling(mlm=True)
    collate = TFDataCollatorForLanguageModeling()
    with pytest.raises(ValueError, match="The examples already have labels"):
        collate([{"input_ids": [1], "labels": [1]}])
    with pytest.raises(ValueError, match=r"need input_ids; received the columns \['text'\]"):
        collate([{"text": "a"}])


def test_fit_a_llama_under_mixed_bfloat16_on_collated_batches():
    rng = np.random.default_rng(0)
    rows = [list(4 + (start + np.arange(length)) % 60) for start, length in zip(rng.integers(0, 60, 16),
                                                                                rng.integers(3, 9, 16))]
    dataset = datasets.Dataset.from_dict({"input_ids": rows, "text": ["x"] * 16})
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16")
    try:
        model = tiny_model("TFLlamaForCausalLM")
        collate = TFDataCollatorForLanguageModeling(pad_token_id=model.config.pad_token_id or 0, pad_to_multiple_of=8)
        data = prepare_tf_dataset(model, dataset, batch_size=4, shuffle=True, collate_fn=collate, seed=0)
        features, labels = next(iter(data))
        assert sorted(features) == ["attention_mask", "input_ids"] and features["input_ids"].shape == (4, 8)
        expected = np.where(features["attention_mask"].numpy() == 1, features["input_ids"].numpy(), -100)
        np.testing.assert_array_equal(labels.numpy(), expected)
        model.compile(optimizer=keras.optimizers.Adam(3e-2))
        history = model.fit(data, epochs=4, verbose=0).history["loss"]
        assert model.compute_dtype == "bfloat16" and model.weights[0].dtype == "float32"
        out = model({**features, "labels": labels})
        assert out.logits.dtype == tf.float32 and out.loss.dtype == tf.float32
    finally:
        keras.config.set_dtype_policy(previous)
    assert np.all(np.isfinite(history)) and history[-1] < 0.8 * history[0], history
