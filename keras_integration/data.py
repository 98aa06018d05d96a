"""Turn a `datasets.Dataset` into a `tf.data.Dataset` ready for `model.fit`, and pad batches."""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import numpy as np
import tensorflow as tf

from keras_integration.training import call_argument_names, label_names

logger = logging.getLogger(__name__)

ZERO_PADDED = ("attention_mask", "token_type_ids", "special_tokens_mask")


class TFDataCollatorWithPadding:
    """Collate a list of examples (dicts) into a batch of numpy arrays, right-padding ragged columns.

    Token columns are padded with `pad_token_id`, `attention_mask`/`token_type_ids` with 0, and label columns
    (names containing `label`) with `label_pad_token_id` (-100, which losses and metrics ignore).

    Example:
        >>> collate = TFDataCollatorWithPadding(pad_token_id=0)
        >>> collate([{"input_ids": [5, 6, 7]}, {"input_ids": [8]}])["input_ids"]
        array([[5, 6, 7],
               [8, 0, 0]], dtype=int32)
    """

    def __init__(self, pad_token_id: int = 0, label_pad_token_id: int = -100, pad_to_multiple_of: int | None = None,
                 padding_values: Mapping[str, Any] | None = None, dtypes: Mapping[str, Any] | None = None) -> None:
        self.pad_token_id = pad_token_id
        self.label_pad_token_id = label_pad_token_id
        self.pad_to_multiple_of = pad_to_multiple_of
        self.padding_values = dict(padding_values or {})
        self.dtypes = dict(dtypes or {})

    def padding_value(self, column: str) -> Any:
        if column in self.padding_values:
            return self.padding_values[column]
        if "label" in column:
            return self.label_pad_token_id
        if column in ZERO_PADDED:
            return 0
        return self.pad_token_id

    def __call__(self, samples: Sequence[Mapping[str, Any]]) -> dict[str, np.ndarray]:
        if not samples:
            raise ValueError("Cannot collate an empty list of examples.")
        batch = {}
        for column in samples[0]:
            values = [np.asarray(sample[column]) for sample in samples]
            dtype = self.dtypes.get(column, _default_dtype(values[0].dtype))
            same_shape = all(v.shape == values[0].shape for v in values)
            if same_shape and (values[0].ndim != 1 or not self.pad_to_multiple_of):
                batch[column] = np.stack(values).astype(dtype)
                continue
            if any(v.ndim != 1 for v in values):
                raise ValueError(f"Column {column!r} holds ragged values of rank > 1; pass a collate_fn for it.")
            length = max(len(v) for v in values)
            if self.pad_to_multiple_of:  # also when every row has the same length: the bucket sizes stay few
                length = math.ceil(length / self.pad_to_multiple_of) * self.pad_to_multiple_of
            padded = np.full((len(values), length), self.padding_value(column), dtype=dtype)
            for row, value in enumerate(values):
                padded[row, : len(value)] = value
            batch[column] = padded
        return batch


class TFDataCollatorForLanguageModeling(TFDataCollatorWithPadding):
    """Collate examples for causal language modelling, like the reference's
    `DataCollatorForLanguageModeling(tokenizer, mlm=False)`: pad as `TFDataCollatorWithPadding`, and add `labels`,
    a copy of `input_ids` with `label_pad_token_id` (-100, ignored by the loss) on padding. The model shifts the
    labels itself.

    One difference: the reference sets -100 on every token equal to `pad_token_id`, wherever it is; here only
    padding positions get it (what the collator adds and, when the examples have one, where their `attention_mask`
    is 0), so a padding id that is also a real token (GPT-2's end-of-text used as padding) is still learned where
    it is text.

    Example:
        >>> collate = TFDataCollatorForLanguageModeling(pad_token_id=0)
        >>> collate([{"input_ids": [5, 6, 7]}, {"input_ids": [8]}])["labels"]
        array([[   5,    6,    7],
               [   8, -100, -100]], dtype=int32)
        >>> train = model.prepare_tf_dataset(tokenized, batch_size=8, collate_fn=collate)
    """

    def __init__(self, pad_token_id: int = 0, mlm: bool = False, label_pad_token_id: int = -100,
                 pad_to_multiple_of: int | None = None, dtypes: Mapping[str, Any] | None = None) -> None:
        if mlm:
            raise ValueError("TFDataCollatorForLanguageModeling collates for causal language modelling only "
                             "(mlm=False); masked-LM batches need their own masking.")
        super().__init__(pad_token_id, label_pad_token_id, pad_to_multiple_of, dtypes=dtypes)

    def __call__(self, samples: Sequence[Mapping[str, Any]]) -> dict[str, np.ndarray]:
        if samples and "input_ids" not in samples[0]:
            raise ValueError(f"Causal-LM examples need input_ids; received the columns {sorted(samples[0])}.")
        if samples and "labels" in samples[0]:
            raise ValueError("The examples already have labels; the causal-LM collator makes them from input_ids. "
                             "Remove the labels column, or use TFDataCollatorWithPadding to keep yours.")
        batch = super().__call__(samples)
        lengths = np.array([len(sample["input_ids"]) for sample in samples])
        real = np.arange(batch["input_ids"].shape[1])[None, :] < lengths[:, None]
        if "attention_mask" in batch:
            real &= batch["attention_mask"] != 0
        else:
            batch["attention_mask"] = real.astype(batch["input_ids"].dtype)
        batch["labels"] = np.where(real, batch["input_ids"], self.label_pad_token_id).astype(batch["input_ids"].dtype)
        return batch


class DecoderInputsFromLabels(Protocol):
    """What `TFDataCollatorForSeq2Seq(model=...)` needs of a model (a `tfmodels` seq2seq LM has it)."""

    def prepare_decoder_input_ids_from_labels(self, labels: np.ndarray) -> Any:
        """The decoder inputs for `labels` `[batch, seq]`: shifted right after the start token."""


class TFDataCollatorForSeq2Seq(TFDataCollatorWithPadding):
    """Collate examples for sequence-to-sequence training, as the reference's `DataCollatorForSeq2Seq`: inputs
    and `labels` are padded separately (inputs with `pad_token_id`, labels with `label_pad_token_id`, -100, which
    the loss ignores), each to its own longest row (rounded up to `pad_to_multiple_of`); with `model` (anything
    with `prepare_decoder_input_ids_from_labels`, such as a `tfmodels` seq2seq LM) or `decoder_start_token_id`, it
    adds `decoder_input_ids`: the labels shifted right after the start token, -100 replaced by `pad_token_id`.
    Without either, the model shifts the labels itself.

    Example:
        >>> collate = TFDataCollatorForSeq2Seq(pad_token_id=1, decoder_start_token_id=2)
        >>> batch = collate([{"input_ids": [5, 6, 7], "labels": [8, 9]}, {"input_ids": [5], "labels": [8, 9, 4]}])
        >>> batch["labels"].tolist(), batch["decoder_input_ids"].tolist()
        ([[8, 9, -100], [8, 9, 4]], [[2, 8, 9], [2, 8, 9]])
        >>> train = model.prepare_tf_dataset(tokenized, batch_size=8, collate_fn=collate)
    """

    def __init__(self, pad_token_id: int = 0, label_pad_token_id: int = -100, pad_to_multiple_of: int | None = None,
                 decoder_start_token_id: int | None = None, model: DecoderInputsFromLabels | None = None,
                 dtypes: Mapping[str, Any] | None = None) -> None:
        if model is not None and not hasattr(model, "prepare_decoder_input_ids_from_labels"):
            raise ValueError(f"model must have prepare_decoder_input_ids_from_labels (a seq2seq LM); received "
                             f"{type(model).__name__}. Pass decoder_start_token_id instead.")
        if model is not None and decoder_start_token_id is not None:
            raise ValueError("Pass model or decoder_start_token_id, not both: the model knows its start token.")
        super().__init__(pad_token_id, label_pad_token_id, pad_to_multiple_of, dtypes=dtypes)
        self.decoder_start_token_id = decoder_start_token_id
        self.model = model

    def __call__(self, samples: Sequence[Mapping[str, Any]]) -> dict[str, np.ndarray]:
        if samples and "decoder_input_ids" in samples[0]:
            raise ValueError("The examples already have decoder_input_ids; this collator makes them from the labels. "
                             "Remove that column, or use TFDataCollatorWithPadding to keep yours.")
        batch = super().__call__(samples)
        if "labels" not in batch or (self.model is None and self.decoder_start_token_id is None):
            return batch
        labels = batch["labels"]
        if self.model is not None:
            decoder_input_ids = np.asarray(self.model.prepare_decoder_input_ids_from_labels(labels=labels))
        else:
            decoder_input_ids = np.concatenate(
                [np.full((len(labels), 1), self.decoder_start_token_id, labels.dtype), labels[:, :-1]], axis=1)
            decoder_input_ids[decoder_input_ids == self.label_pad_token_id] = self.pad_token_id
        batch["decoder_input_ids"] = decoder_input_ids.astype(labels.dtype)
        return batch


def _default_dtype(dtype: np.dtype) -> np.dtype:
    if np.issubdtype(dtype, np.integer) or np.issubdtype(dtype, np.bool_):
        return np.dtype(np.int32)
    if np.issubdtype(dtype, np.floating):
        return np.dtype(np.float32)
    return dtype


# Raw-input columns: the `datasets` feature type, the model input it becomes, the model attribute that makes it.
RAW_COLUMNS = {"Image": ("pixel_values", "image_processor"), "Audio": ("input_features", "feature_extractor")}


def _raw_column(model, dataset, arguments: list[str], feature_type: str) -> str | None:
    """The dataset's column of `feature_type` (`Image`, `Audio`) that becomes a model input through the model's
    preprocessor (`RAW_COLUMNS`), when the model takes that input and the dataset has none; None otherwise."""
    input_name, preprocessor = RAW_COLUMNS[feature_type]
    if input_name not in arguments or input_name in dataset.column_names:
        return None
    features = getattr(dataset, "features", None) or {}
    columns = [name for name, feature in features.items() if type(feature).__name__ == feature_type]
    if not columns:
        return None
    kind = feature_type.lower()
    if len(columns) > 1:
        raise ValueError(f"The dataset has several {kind} columns {columns}; keep the one the model should read "
                         f"(dataset.remove_columns([...])) or make {input_name} yourself.")
    if getattr(model, preprocessor, None) is None:
        raise ValueError(f"{type(model).__name__} has no {preprocessor} to turn the {columns[0]!r} column into "
                         f"{input_name}; set model.{preprocessor}, or map the {kind} to {input_name} first.")
    return columns[0]


def _waveform(entry, sampling_rate: int) -> np.ndarray:
    """One `datasets.Audio` entry (decoded: `array` and `sampling_rate`; undecoded: WAV `bytes` or `path`) as mono
    float32 samples at `sampling_rate`."""
    if isinstance(entry, Mapping) and entry.get("array") is not None:
        samples, rate = np.asarray(entry["array"], np.float32), entry.get("sampling_rate")
        samples = samples.mean(axis=0) if samples.ndim == 2 else samples
    else:
        data = entry.get("bytes") if isinstance(entry, Mapping) else None
        if data is None:
            with open(entry["path"] if isinstance(entry, Mapping) else entry, "rb") as handle:
                data = handle.read()
        decoded = tf.audio.decode_wav(data, desired_channels=1)  # WAV only: other formats need decoding first
        samples, rate = decoded.audio.numpy()[:, 0], int(decoded.sample_rate)
    if rate is not None and int(rate) != sampling_rate:
        raise ValueError(f"An audio example is sampled at {rate} Hz; the model's feature extractor expects "
                         f"{sampling_rate} Hz. Resample the column first: dataset.cast_column(name, "
                         f"datasets.Audio(sampling_rate={sampling_rate})).")
    return samples


def prepare_tf_dataset(
    model,
    dataset,
    batch_size: int = 8,
    shuffle: bool = True,
    tokenizer=None,
    collate_fn: Callable | None = None,
    collate_fn_args: Mapping[str, Any] | None = None,
    drop_remainder: bool | None = None,
    prefetch: bool = True,
    seed: int | None = None,
    pad_to_multiple_of: int | None = None,
) -> tf.data.Dataset:
    """Wrap a `datasets.Dataset` as a batched `tf.data.Dataset` for `model.fit`/`evaluate`/`predict`.

    Like the reference, it yields `(features, labels)` when the batches hold label columns (a single label column
    as a bare tensor, several as a dict keyed by label name), else the dict of features alone.

    Keeps the columns `model.call` accepts plus its label columns (`label` becomes `labels`) and logs which
    columns it drops. A column of images (a `datasets.Image` feature) becomes `pixel_values` through the model's
    `image_processor`, and a column of audio (`datasets.Audio`: WAV files, or decoded arrays) `input_features`
    through its `feature_extractor`, batch by batch. Batches are padded per batch: by `tokenizer.pad`, by
    `collate_fn(samples, **collate_fn_args)`, or else by `TFDataCollatorWithPadding` with `model.config.pad_token_id`. Rows are read batch by batch, so a large
    dataset starts yielding at once; every shape is `[batch, None, ...]` so one compiled graph serves every batch
    (`batch` is `batch_size` with `drop_remainder`, which defaults to `shuffle`, else unknown).
    `pad_to_multiple_of` (default collator only) rounds each batch's length up to a multiple, so a few bucket
    lengths cover every batch.

    Example:
        >>> train = prepare_tf_dataset(model, tokenized["train"], batch_size=16, shuffle=True)
        >>> model.fit(train, epochs=3)
    """
    if not hasattr(dataset, "column_names") or not hasattr(dataset, "select_columns"):
        raise TypeError(f"prepare_tf_dataset takes a datasets.Dataset (rows with named columns); received "
                        f"{type(dataset).__name__}. Build one with datasets.Dataset.from_dict({{...}}), or pass a "
                        "tf.data.Dataset to fit directly.")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int):
        raise TypeError(f"batch_size must be an integer; received {batch_size!r} ({type(batch_size).__name__}).")
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1; received {batch_size}.")
    if pad_to_multiple_of is not None and (isinstance(pad_to_multiple_of, bool)
                                           or not isinstance(pad_to_multiple_of, int) or pad_to_multiple_of < 1):
        raise ValueError(f"pad_to_multiple_of must be a positive integer or None; received {pad_to_multiple_of!r}.")
    if tokenizer is not None and collate_fn is not None:
        raise ValueError("Pass either tokenizer or collate_fn, not both.")
    drop_remainder = shuffle if drop_remainder is None else drop_remainder
    arguments = call_argument_names(model)
    labels = label_names(model)
    rename = {"label": "labels"} if "labels" in labels and "labels" not in dataset.column_names else {}
    image_column = _raw_column(model, dataset, arguments, "Image")
    audio_column = _raw_column(model, dataset, arguments, "Audio")
    if audio_column is not None:  # read undecoded (WAV by TensorFlow): decoding needs no audio library
        feature = dataset.features[audio_column]
        dataset = dataset.cast_column(audio_column, type(feature)(sampling_rate=feature.sampling_rate, decode=False))
    kept, dropped = [], []
    for column in dataset.column_names:
        if column in arguments or column in rename or column in (image_column, audio_column):
            kept.append(column)
        else:
            dropped.append(column)
    if not kept:
        raise ValueError(f"None of the dataset's columns {dataset.column_names} is an input of "
                         f"{type(model).__name__}; it accepts {arguments}. Tokenize the text first.")
    if dropped:
        logger.info("prepare_tf_dataset drops columns %s: %s.call() does not accept them.", dropped,
                    type(model).__name__)
    dataset = dataset.select_columns(kept)
    if len(dataset) == 0:
        raise ValueError("The dataset is empty.")

    signature = getattr(model, "input_signature", {}) or {}
    dtypes = {name: spec.dtype.as_numpy_dtype for name, spec in signature.items()}
    if tokenizer is not None:
        def collate(samples):
            return dict(tokenizer.pad(samples, return_tensors="np"))
    elif collate_fn is not None:
        def collate(samples):
            return dict(collate_fn(samples, **(collate_fn_args or {})))
    else:
        pad_token_id = getattr(getattr(model, "config", None), "pad_token_id", None)
        collate = TFDataCollatorWithPadding(pad_token_id=pad_token_id or 0, dtypes=dtypes,
                                            pad_to_multiple_of=pad_to_multiple_of)

    def make_batch(indices: np.ndarray) -> dict[str, np.ndarray]:
        rows = dataset[[int(i) for i in indices]]
        raw = (image_column, audio_column)
        samples = [{rename.get(c, c): rows[c][i] for c in kept if c not in raw} for i in range(len(indices))]
        batch = collate(samples) if samples[0] else {}
        if image_column is not None:  # decoded images -> the model's processor -> pixel_values
            batch["pixel_values"] = model.image_processor(list(rows[image_column]), return_tensors="np")["pixel_values"]
        if audio_column is not None:  # samples -> the model's feature extractor -> input_features
            extractor = model.feature_extractor
            waves = [_waveform(entry, extractor.sampling_rate) for entry in rows[audio_column]]
            batch["input_features"] = extractor(waves, return_tensors="np")["input_features"]
        return {name: np.asarray(value, dtype=dtypes.get(name, _default_dtype(np.asarray(value).dtype)))
                for name, value in batch.items()}

    first = make_batch(np.arange(min(batch_size, len(dataset))))
    label_columns = [name for name in first if name in labels]

    def split(batch: dict) -> Any:
        features = {name: value for name, value in batch.items() if name not in label_columns}
        if not label_columns:
            return features
        targets = {name: batch[name] for name in label_columns}
        return features, targets[label_columns[0]] if len(label_columns) == 1 else targets

    num_rows = len(dataset)
    num_batches = num_rows // batch_size if drop_remainder else math.ceil(num_rows / batch_size)
    # Every batch is full with drop_remainder: a static batch dimension says so (and tells the model card the size).
    leading = batch_size if drop_remainder else None
    spec = split({name: tf.TensorSpec([leading] + [None] * (value.ndim - 1), tf.as_dtype(value.dtype), name=name)
                  for name, value in first.items()})
    if num_batches == 0:
        raise ValueError(f"The dataset has {num_rows} rows, fewer than batch_size={batch_size}, and drop_remainder "
                         "is on: no batch would be produced.")
    rng = np.random.default_rng(seed)

    def generator():
        order = rng.permutation(num_rows) if shuffle else np.arange(num_rows)
        for batch_index in range(num_batches):
            yield split(make_batch(order[batch_index * batch_size:(batch_index + 1) * batch_size]))

    tf_dataset = tf.data.Dataset.from_generator(generator, output_signature=spec)
    tf_dataset = tf_dataset.apply(tf.data.experimental.assert_cardinality(num_batches))
    if prefetch:
        tf_dataset = tf_dataset.prefetch(tf.data.AUTOTUNE)
    return tf_dataset
