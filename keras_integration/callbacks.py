"""Keras callbacks: metrics computed by a Python function at each epoch end, and resumable training checkpoints."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from keras_integration.training import label_names

CHECKPOINT_WEIGHTS = "weights.npz"
CHECKPOINT_OPTIMIZER = "optimizer.npz"
CHECKPOINT_STATE = "trainer_state.json"


class KerasMetricCallback(keras.callbacks.Callback):
    """Compute `metric_fn((predictions, labels))` on `eval_dataset` at each epoch end and add the values to
    `logs`, so that `EarlyStopping`, `ModelCheckpoint` and `History` see them.

    `predictions` and `labels` are numpy arrays (or dicts of them when several `output_cols`/`label_cols`).

    Example:
        >>> def accuracy(eval_prediction):
        ...     logits, labels = eval_prediction
        ...     return {"val_accuracy_fn": float((logits.argmax(-1) == labels).mean())}
        >>> model.fit(train, callbacks=[KerasMetricCallback(accuracy, eval_dataset=validation)])
    """

    def __init__(self, metric_fn: Callable[[tuple[Any, Any]], Mapping[str, float]], eval_dataset: tf.data.Dataset,
                 output_cols: Sequence[str] | None = None, label_cols: Sequence[str] | None = None,
                 batch_size: int | None = None, predict_with_generate: bool = False) -> None:
        super().__init__()
        if predict_with_generate:
            raise NotImplementedError("predict_with_generate=True is not supported yet: no model here generates.")
        if not isinstance(eval_dataset, tf.data.Dataset):
            raise TypeError("eval_dataset must be a tf.data.Dataset (for example from prepare_tf_dataset); received "
                            f"{type(eval_dataset).__name__}.")
        if batch_size is not None:
            eval_dataset = eval_dataset.rebatch(batch_size)
        self.metric_fn = metric_fn
        self.eval_dataset = eval_dataset
        self.output_cols = list(output_cols) if output_cols else None
        self.label_cols = list(label_cols) if label_cols else None

    @staticmethod
    def _single(values: dict[str, np.ndarray]) -> Any:
        return next(iter(values.values())) if len(values) == 1 else values

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        label_cols = self.label_cols or label_names(self.model)
        predictions: dict[str, list] = {}
        labels: dict[str, list] = {}
        for batch in self.eval_dataset:
            x, y, _ = keras.utils.unpack_x_y_sample_weight(batch)
            found = dict(y) if isinstance(y, Mapping) else ({label_cols[0]: y} if y is not None else {})
            if isinstance(x, Mapping):
                found.update({k: x[k] for k in label_cols if k in x})
                x = {k: v for k, v in x.items() if k not in label_cols}
            outputs = self.model.predict_on_batch(x)
            wanted = self.output_cols or [k for k in outputs if k != "loss"]
            for name in wanted:
                predictions.setdefault(name, []).append(np.asarray(outputs[name]))
            for name in label_cols:
                if name in found:
                    labels.setdefault(name, []).append(np.asarray(found[name]))
        if not labels:
            raise ValueError(f"KerasMetricCallback found none of the label columns {label_cols} in eval_dataset.")
        merged_predictions = {k: _concatenate(v) for k, v in predictions.items()}
        merged_labels = {k: _concatenate(v) for k, v in labels.items()}
        results = self.metric_fn((self._single(merged_predictions), self._single(merged_labels)))
        if not isinstance(results, Mapping):
            raise TypeError(f"metric_fn must return a dict of metric name -> value; it returned {type(results)}.")
        if logs is not None:
            logs.update({name: float(value) for name, value in results.items()})


def _concatenate(arrays: list[np.ndarray]) -> np.ndarray:
    """Join batches whose sequence lengths differ, padding with -100 (ignored by metrics, like labels)."""
    if arrays[0].ndim < 2 or all(a.shape[1:] == arrays[0].shape[1:] for a in arrays):
        return np.concatenate(arrays)
    length = max(a.shape[1] for a in arrays)
    padded = []
    for a in arrays:
        widths = [(0, 0), (0, length - a.shape[1])] + [(0, 0)] * (a.ndim - 2)
        padded.append(np.pad(a, widths, constant_values=-100))
    return np.concatenate(padded)


def save_training_checkpoint(model: keras.Model, directory: str, epoch: int) -> None:
    """Save weights, optimizer state and the finished `epoch` into `directory`, atomically (a crash leaves the
    previous checkpoint), for `load_training_checkpoint`.

    Example:
        >>> save_training_checkpoint(model, "run/checkpoint", epoch=2)
    """
    if getattr(model, "optimizer", None) is None:
        raise RuntimeError("The model has no optimizer: compile it before saving a training checkpoint.")
    parent = os.path.dirname(os.path.abspath(directory))
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".checkpoint-", dir=parent)
    try:
        np.savez(os.path.join(staging, CHECKPOINT_WEIGHTS), **_by_path(model.weights))
        np.savez(os.path.join(staging, CHECKPOINT_OPTIMIZER),
                 **{f"{i:06d}:{v.path}": keras.ops.convert_to_numpy(v.value)
                    for i, v in enumerate(model.optimizer.variables)})
        with open(os.path.join(staging, CHECKPOINT_STATE), "w") as handle:
            json.dump({"epoch": int(epoch)}, handle)
        previous = directory + ".previous"
        if os.path.exists(directory):
            os.replace(directory, previous)
        os.replace(staging, directory)
        shutil.rmtree(previous, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _by_path(variables) -> dict[str, np.ndarray]:
    values = {}
    for variable in variables:
        values.setdefault(variable.path, keras.ops.convert_to_numpy(variable.value))
    return values


def load_training_checkpoint(model: keras.Model, directory: str) -> dict[str, int]:
    """Restore weights and optimizer state saved by `save_training_checkpoint`; return `{"epoch": n}`.

    The model must be compiled with the same kind of optimizer. Continue with
    `model.fit(..., initial_epoch=n + 1)`.
    """
    if getattr(model, "optimizer", None) is None:
        raise RuntimeError("Compile the model (with the optimizer used for training) before loading a checkpoint.")
    missing = [name for name in (CHECKPOINT_WEIGHTS, CHECKPOINT_OPTIMIZER, CHECKPOINT_STATE)
               if not os.path.isfile(os.path.join(directory, name))]
    if missing:
        raise FileNotFoundError(f"{directory} is not a training checkpoint: it lacks {missing}.")
    with np.load(os.path.join(directory, CHECKPOINT_WEIGHTS)) as stored:
        values = dict(stored)
    seen = set()
    for variable in model.weights:
        if variable.path in seen:
            continue
        if variable.path not in values:
            raise ValueError(f"The checkpoint in {directory} has no value for {variable.path}; it was saved from a "
                             "different model.")
        variable.assign(values[variable.path])
        seen.add(variable.path)
    optimizer = model.optimizer
    if not optimizer.built:
        optimizer.build(model.trainable_variables)
    with np.load(os.path.join(directory, CHECKPOINT_OPTIMIZER)) as stored:
        states = [stored[key] for key in sorted(stored.files)]
    if len(states) != len(optimizer.variables):
        raise ValueError(f"The checkpoint holds {len(states)} optimizer values but this optimizer has "
                         f"{len(optimizer.variables)}; compile with the optimizer used for training.")
    for variable, value in zip(optimizer.variables, states):
        variable.assign(value)
    with open(os.path.join(directory, CHECKPOINT_STATE)) as handle:
        return {"epoch": int(json.load(handle)["epoch"])}


class TrainingCheckpoint(keras.callbacks.Callback):
    """Save a resumable training checkpoint into `directory` at the end of every epoch.

    Example:
        >>> model.fit(train, epochs=5, callbacks=[TrainingCheckpoint("run/checkpoint")])
        >>> start = model.load_repo_checkpoint("run/checkpoint")["epoch"] + 1  # after a crash
        >>> model.fit(train, epochs=5, initial_epoch=start)
    """

    def __init__(self, directory: str) -> None:
        super().__init__()
        self.directory = directory

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        save_training_checkpoint(self.model, self.directory, epoch)
