"""Model cards: the dataset in the Hub metadata and `model-index`, and the batch size found from the training data."""

import huggingface_hub
import keras
import numpy as np
import pytest
import tensorflow as tf

from keras_integration.model_card import batch_size_of
from tests.keras_integration.tiny import tiny_batch, tiny_model

HEAD = "TFBertForSequenceClassification"


def _fitted(data, validation=True, **fit_kwargs):
    keras.utils.set_random_seed(0)
    model = tiny_model(HEAD)
    model.compile(optimizer=keras.optimizers.Adam(1e-3), loss="auto", metrics=["accuracy"])
    history = model.fit(data, validation_data=data if validation else None, epochs=2, verbose=0, **fit_kwargs)
    return model, history.history


def _rows(batch):
    return tf.data.Dataset.from_tensor_slices(batch)


def test_a_named_dataset_goes_to_the_metadata_and_model_index_with_the_batch_size_of_the_data(tmp_path):
    model, history = _fitted(_rows(tiny_batch(HEAD, n=10)).batch(4).prefetch(2))
    card = huggingface_hub.ModelCard.load(model.create_model_card(tmp_path, "tiny", dataset="imdb"))
    assert card.data.to_dict()["datasets"] == ["imdb"]
    results = {(r.dataset_type, r.dataset_name, r.metric_name): r.metric_value for r in card.data.eval_results}
    assert results == {("imdb", "imdb", "val_accuracy"): pytest.approx(history["val_accuracy"][-1]),
                       ("imdb", "imdb", "val_loss"): pytest.approx(history["val_loss"][-1])}
    assert "on the imdb dataset" in card.text and "not in the Hub metadata" not in card.text
    assert "- batch_size: 4\n" in card.text  # 10 rows: batches of 4, 4 and 2, never passed to the card


def test_without_a_dataset_the_card_says_why_there_are_no_hub_results(tmp_path):
    model, history = _fitted(tiny_batch(HEAD, n=12), validation=False, batch_size=6)
    card = huggingface_hub.ModelCard.load(model.create_model_card(tmp_path, "tiny"))
    assert card.data.to_dict().get("model-index") is None and card.data.to_dict().get("datasets") is None
    assert f"- accuracy: {history['accuracy'][-1]:.4f}" in card.text
    assert "These results are not in the Hub metadata (`model-index`): no dataset was named." in card.text
    assert "- batch_size: 6\n" in card.text  # numpy arrays: fit's own batch_size
    tagged = huggingface_hub.ModelCard.load(
        model.create_model_card(tmp_path / "tagged", "tiny", dataset_tags="glue", dataset="sst2", batch_size=3))
    assert tagged.data.to_dict()["datasets"] == ["glue"]
    assert {(r.dataset_type, r.dataset_name, r.metric_name) for r in tagged.data.eval_results} == {
        ("glue", "sst2", "accuracy"), ("glue", "sst2", "loss")}  # no validation: the final training metrics
    assert "- batch_size: 3\n" in tagged.text  # passed explicitly: wins


def _generator():
    yield np.zeros((2, 3))


@pytest.mark.parametrize("data, batch_size, expected", [
    (_rows(np.zeros((10, 3))).batch(4), None, 4),
    (_rows(np.zeros((10, 3))).batch(4).map(lambda x: x * 2).prefetch(1), 16, 4),  # fit ignores batch_size
    (_rows(np.zeros((10, 3))).batch(5, drop_remainder=True).shuffle(3), None, 5),  # static leading dimension
    (_rows({"ids": np.zeros((10, 3), np.int32)}).padded_batch(3).repeat(2), None, 3),
    (_rows(np.zeros((10, 3))).batch(4).unbatch().batch(2), None, 2),
    (tf.data.Dataset.from_generator(_generator, output_signature=tf.TensorSpec([None, 3])), None, None),
    (tf.data.Dataset.from_generator(_generator, output_signature=tf.TensorSpec([2, 3])), None, 2),
    (np.zeros((10, 3)), None, 32),  # Keras' default for arrays
    ({"ids": np.zeros((10, 3))}, 7, 7),
    (_generator(), None, None),  # a Python generator: fit cannot say either
    (_generator(), 2, 2),
])
def test_batch_size_of(data, batch_size, expected):
    assert batch_size_of(data, batch_size) == expected
