"""prepare_tf_dataset and the padding collator on real `datasets.Dataset`s."""

import logging
import time

import numpy as np
import datasets
import keras
import pytest
import tensorflow as tf

from keras_integration import TFDataCollatorWithPadding, prepare_tf_dataset
from tests.keras_integration.tiny import tiny_model


def _dataset():
    rows = [[5, 6, 7], [8, 9], [10, 11, 12, 13, 14], [15], [16, 17], [18, 19, 20]]
    return datasets.Dataset.from_dict({
        "input_ids": rows,
        "attention_mask": [[1] * len(r) for r in rows],
        "label": [0, 1, 2, 0, 1, 2],
        "text": ["a", "b", "c", "d", "e", "f"],
        "idx": list(range(6)),
    })


def test_batches_shapes_dtypes_padding_and_dropped_columns(caplog):
    model = tiny_model("TFBertForSequenceClassification", pad_token_id=3)
    with caplog.at_level(logging.INFO, logger="keras_integration"):
        data = prepare_tf_dataset(model, _dataset(), batch_size=4, shuffle=False)
    assert any("['text', 'idx']" in r.getMessage() and "does not accept" in r.getMessage() for r in caplog.records)
    assert data.element_spec == ({
        "input_ids": tf.TensorSpec([None, None], tf.int32, name="input_ids"),
        "attention_mask": tf.TensorSpec([None, None], tf.int32, name="attention_mask"),
    }, tf.TensorSpec([None], tf.int32, name="labels"))  # (features, labels), a single label as a bare tensor
    batches = [{**{k: v.numpy() for k, v in x.items()}, "labels": y.numpy()} for x, y in data]
    assert len(batches) == 2 and int(data.cardinality()) == 2
    np.testing.assert_array_equal(batches[0]["input_ids"], [[5, 6, 7, 3, 3], [8, 9, 3, 3, 3],
                                                            [10, 11, 12, 13, 14], [15, 3, 3, 3, 3]])
    np.testing.assert_array_equal(batches[0]["attention_mask"][1], [1, 1, 0, 0, 0])
    np.testing.assert_array_equal(batches[1]["input_ids"], [[16, 17, 3], [18, 19, 20]])  # last, smaller batch
    np.testing.assert_array_equal(batches[0]["labels"], [0, 1, 2, 0])


def test_shuffle_drops_the_remainder_and_reshuffles_each_epoch():
    model = tiny_model("TFBertForSequenceClassification")
    data = prepare_tf_dataset(model, _dataset(), batch_size=4, shuffle=True, seed=1)
    epochs = [[x["input_ids"].numpy()[:, 0].tolist() for x, _ in data] for _ in range(3)]
    assert all(len(e) == 1 and len(e[0]) == 4 for e in epochs)
    assert len({tuple(e[0]) for e in epochs}) > 1


def test_token_labels_are_padded_with_minus_100_and_the_model_trains():
    model = tiny_model("TFBertForTokenClassification")
    rows = [[5, 6, 7], [8, 9]]
    dataset = datasets.Dataset.from_dict({"input_ids": rows, "labels": [[0, 1, 2], [1, 1]]})
    data = prepare_tf_dataset(model, dataset, batch_size=2, shuffle=False)
    _, labels = next(iter(data))
    np.testing.assert_array_equal(labels, [[0, 1, 2], [1, 1, -100]])
    model.compile(optimizer="adam")
    assert np.isfinite(model.fit(data, epochs=1, verbose=0).history["loss"][0])


def test_tokenizer_and_collate_fn_paths():
    model = tiny_model("TFBertForSequenceClassification")
    dataset = _dataset()

    class Tokenizer:
        def pad(self, samples, return_tensors):
            assert return_tensors == "np"
            return TFDataCollatorWithPadding(pad_token_id=99)(samples)

    batch, _ = next(iter(prepare_tf_dataset(model, dataset, batch_size=2, shuffle=False, tokenizer=Tokenizer())))
    np.testing.assert_array_equal(batch["input_ids"], [[5, 6, 7], [8, 9, 99]])

    def collate(samples, length):
        ids = np.zeros((len(samples), length), np.int64)
        for i, sample in enumerate(samples):
            ids[i, : len(sample["input_ids"])] = sample["input_ids"]
        return {"input_ids": ids, "labels": np.array([s["labels"] for s in samples])}

    data = prepare_tf_dataset(model, dataset, batch_size=3, shuffle=False, collate_fn=collate,
                              collate_fn_args={"length": 6})
    batch, _ = next(iter(data))
    assert batch["input_ids"].shape == (3, 6) and batch["input_ids"].dtype == tf.int32
    with pytest.raises(ValueError, match="either tokenizer or collate_fn"):
        prepare_tf_dataset(model, dataset, tokenizer=Tokenizer(), collate_fn=collate)
    with pytest.raises(ValueError, match="None of the dataset's columns"):
        prepare_tf_dataset(model, datasets.Dataset.from_dict({"text": ["a"]}))


def test_a_large_dataset_streams():
    model = tiny_model("TFBertForSequenceClassification")
    n = 100_000
    dataset = datasets.Dataset.from_dict({"input_ids": [[i % 40 + 1] * (i % 7 + 1) for i in range(n)],
                                          "label": [i % 3 for i in range(n)]})
    start = time.perf_counter()
    data = prepare_tf_dataset(model, dataset, batch_size=32, shuffle=True)
    first, _ = next(iter(data))
    assert time.perf_counter() - start < 5
    assert first["input_ids"].shape[0] == 32 and int(data.cardinality()) == n // 32


def test_several_label_columns_come_as_a_dict_and_both_forms_train_alike():
    rows = [[5, 6, 7, 8], [8, 9, 10, 11], [10, 11, 12, 13], [15, 16, 17, 18]]
    dataset = datasets.Dataset.from_dict({"input_ids": rows, "start_positions": [0, 1, 2, 3],
                                          "end_positions": [1, 2, 3, 3], "idx": [0, 1, 2, 3]})
    model = tiny_model("TFBertForQuestionAnswering")
    data = prepare_tf_dataset(model, dataset, batch_size=2, shuffle=False)
    for features, labels in data:  # a custom loop unpacks (features, labels) as with the reference
        assert sorted(features) == ["input_ids"] and sorted(labels) == ["end_positions", "start_positions"]
    np.testing.assert_array_equal(labels["start_positions"], [2, 3])
    no_labels = prepare_tf_dataset(model, dataset.remove_columns(["start_positions", "end_positions"]),
                                   batch_size=2, shuffle=False)
    assert sorted(no_labels.element_spec) == ["input_ids"]  # features only

    merged = data.map(lambda x, y: {**x, **y})  # the same batches, labels inside the dict
    losses = []
    for form in (data, merged):
        keras.utils.set_random_seed(0)
        model = tiny_model("TFBertForQuestionAnswering")
        model.compile(optimizer=keras.optimizers.SGD(0.1), loss="auto", metrics=["accuracy"])
        losses.append(model.fit(form, epochs=2, verbose=0).history["loss"])
    np.testing.assert_allclose(losses[0], losses[1], rtol=1e-6)
    assert losses[0][1] != losses[0][0]


def test_collator_on_its_own():
    collate = TFDataCollatorWithPadding(pad_token_id=1, pad_to_multiple_of=4)
    batch = collate([{"input_ids": [5, 6, 7, 8, 9], "token_type_ids": [0, 0, 1, 1, 1], "labels": 1},
                     {"input_ids": [5], "token_type_ids": [0], "labels": 0}])
    np.testing.assert_array_equal(batch["input_ids"], [[5, 6, 7, 8, 9, 1, 1, 1], [5, 1, 1, 1, 1, 1, 1, 1]])
    np.testing.assert_array_equal(batch["token_type_ids"][1], [0] * 8)
    assert batch["input_ids"].dtype == np.int32 and batch["labels"].tolist() == [1, 0]


def test_pad_to_multiple_of_buckets_batch_lengths():
    model = tiny_model("TFBertForSequenceClassification", pad_token_id=3)
    data = model.prepare_tf_dataset(_dataset(), batch_size=2, shuffle=False, pad_to_multiple_of=4)
    batches = [features for features, labels in data]  # `label` is a label column: (features, labels) pairs
    assert [b["input_ids"].shape.as_list() for b in batches] == [[2, 4], [2, 8], [2, 4]]  # longest 3, 5, 3
    np.testing.assert_array_equal(batches[1]["input_ids"], [[10, 11, 12, 13, 14, 3, 3, 3], [15, 3, 3, 3, 3, 3, 3, 3]])
    np.testing.assert_array_equal(batches[1]["attention_mask"], [[1] * 5 + [0] * 3, [1] + [0] * 7])


def test_pad_to_multiple_of_also_pads_batches_of_equal_lengths():
    collate = TFDataCollatorWithPadding(pad_token_id=1, pad_to_multiple_of=8)
    one = collate([{"input_ids": [5, 6, 7], "labels": [2, 3, 4]}])
    np.testing.assert_array_equal(one["input_ids"], [[5, 6, 7, 1, 1, 1, 1, 1]])
    np.testing.assert_array_equal(one["labels"], [[2, 3, 4] + [-100] * 5])
    equal = collate([{"input_ids": [5, 6], "labels": 0}, {"input_ids": [7, 8], "labels": 1}])
    assert equal["input_ids"].shape == (2, 8) and equal["labels"].tolist() == [0, 1]


def test_full_batches_have_a_static_batch_size_that_the_model_card_reads():
    from keras_integration.model_card import batch_size_of

    model = tiny_model("TFBertForSequenceClassification", pad_token_id=3)
    train = prepare_tf_dataset(model, _dataset(), batch_size=2, shuffle=True, seed=0)
    assert train.element_spec[0]["input_ids"].shape.as_list() == [2, None] and batch_size_of(train) == 2
    ragged_end = prepare_tf_dataset(model, _dataset(), batch_size=4, shuffle=False)
    assert [int(f["input_ids"].shape[0]) for f, _ in ragged_end] == [4, 2]
    assert ragged_end.element_spec[0]["input_ids"].shape.as_list() == [None, None]


def test_an_image_column_becomes_pixel_values_through_the_models_processor(tmp_path):
    """A `datasets.Image` column (PNG files of several sizes, as a folder of photos) is decoded and processed by
    `model.image_processor` batch by batch; the other columns keep their rules; two image columns are refused."""
    from PIL import Image

    from tests.tfmodels.models.model_checks import tiny_model as table_model

    rng = np.random.default_rng(0)
    images = [rng.integers(0, 256, (20 + 7 * i, 40 - 3 * i, 3), dtype=np.uint8) for i in range(5)]
    paths = []
    for index, image in enumerate(images):
        paths.append(str(tmp_path / f"{index}.png"))
        Image.fromarray(image).save(paths[-1])
    features = datasets.Features({"image": datasets.Image(), "label": datasets.ClassLabel(num_classes=3),
                                  "name": datasets.Value("string")})
    dataset = datasets.Dataset.from_dict({"image": paths, "label": [0, 1, 2, 0, 1], "name": list("abcde")},
                                         features=features)
    model = table_model("TFViTForImageClassification")
    data = model.prepare_tf_dataset(dataset, batch_size=2, shuffle=False)
    assert data.element_spec == (
        {"pixel_values": tf.TensorSpec([None, None, None, None], tf.float32, name="pixel_values")},
        tf.TensorSpec([None], tf.int32, name="labels"))
    batches = list(data)
    assert [x["pixel_values"].shape for x, _ in batches] == [(2, 3, 30, 30), (2, 3, 30, 30), (1, 3, 30, 30)]
    np.testing.assert_array_equal(batches[1][0]["pixel_values"][1],
                                  model.image_processor(images[3])["pixel_values"][0])
    np.testing.assert_array_equal(np.concatenate([y for _, y in batches]), [0, 1, 2, 0, 1])
    model.compile(optimizer="sgd")
    assert np.isfinite(model.fit(data, epochs=1, verbose=0).history["loss"][0])
    two = dataset.add_column("thumbnail", paths).cast_column("thumbnail", datasets.Image())
    with pytest.raises(ValueError, match=r"several image columns \['image', 'thumbnail'\]"):
        model.prepare_tf_dataset(two, batch_size=2)


def test_an_audio_column_becomes_input_features_through_the_models_feature_extractor(tmp_path):
    """A `datasets.Audio` column of WAV files (read by TensorFlow, no audio library) becomes `input_features` with
    `model.feature_extractor`; a file at another sampling rate is refused with the fix."""
    import wave

    from tests.tfmodels.models.model_checks import tiny_model as table_model
    from tfmodels.audio_processing import WhisperFeatureExtractor

    def write(path, samples, rate):
        with wave.open(str(path), "wb") as handle:
            handle.setnchannels(1)
            handle.setsampwidth(2)
            handle.setframerate(rate)
            handle.writeframes((samples * 32767).astype(np.int16).tobytes())

    rng = np.random.default_rng(0)
    waves = [(0.3 * np.sin(np.arange(n) * 0.05)).astype(np.float32) for n in (900, 3000, 1700)]
    paths = []
    for index, samples in enumerate(waves):
        paths.append(str(tmp_path / f"{index}.wav"))
        write(paths[-1], samples, 1600)
    labels = [list(rng.integers(4, 60, 5)) for _ in waves]
    dataset = datasets.Dataset.from_dict({"audio": paths, "labels": labels}).cast_column(
        "audio", datasets.Audio(sampling_rate=1600, decode=False))
    model = table_model("TFWhisperForConditionalGeneration")
    model.feature_extractor = WhisperFeatureExtractor(feature_size=8, sampling_rate=1600, hop_length=200,
                                                      chunk_length=2)
    data = model.prepare_tf_dataset(dataset, batch_size=2, shuffle=False)
    (features, targets), _ = list(data)
    assert features["input_features"].shape == (2, 8, 16) and targets.shape == (2, 5)
    quantised = [np.trunc(w * 32767) / 32768 for w in waves[:2]]  # the 16-bit files, as TensorFlow reads them
    np.testing.assert_allclose(features["input_features"], model.feature_extractor(quantised)["input_features"],
                               atol=1e-5)
    write(tmp_path / "fast.wav", waves[0], 8000)
    faster = datasets.Dataset.from_dict({"audio": [str(tmp_path / "fast.wav")], "labels": labels[:1]}).cast_column(
        "audio", datasets.Audio(decode=False))
    with pytest.raises(ValueError, match=r"sampled at 8000 Hz; the model's feature extractor expects 1600 Hz"):
        list(model.prepare_tf_dataset(faster, batch_size=1, shuffle=False))
