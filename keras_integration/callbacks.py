"""Keras callbacks: metrics computed by a Python function at each epoch end, and resumable training checkpoints."""

from __future__ import annotations

import inspect
import json
import logging
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from keras_integration import keras_private
from keras_integration.training import label_names

logger = logging.getLogger(__name__)

CHECKPOINT_WEIGHTS = "weights.npz"
CHECKPOINT_OPTIMIZER = "optimizer.npz"
CHECKPOINT_STATE = "trainer_state.json"


class KerasMetricCallback(keras.callbacks.Callback):
    """Compute `metric_fn((predictions, labels))` on `eval_dataset` at each epoch end and add the values to
    `logs`, so that `EarlyStopping`, `ModelCheckpoint` and `History` see them.

    `predictions` are what `model.predict_on_batch` returns (the logits; hidden states and attentions when the
    model is asked for them; never the loss, nor the key/value cache), `labels` the label columns; each is a numpy
    array, or a dict of them when there are several (`output_cols` and `label_cols` choose). Batches of different
    sequence lengths are padded with -100.

    With `predict_with_generate=True` the predictions are `model.generate(input_ids, attention_mask=...,
    **generate_kwargs)` instead (token ids, prompt included for decoder-only models), compiled with XLA when
    `use_xla_generation=True`.

    Example:
        >>> def accuracy(eval_prediction):
        ...     logits, labels = eval_prediction
        ...     return {"val_accuracy_fn": float((logits.argmax(-1) == labels).mean())}
        >>> model.fit(train, callbacks=[KerasMetricCallback(accuracy, eval_dataset=validation)])
    """

    def __init__(self, metric_fn: Callable[[tuple[Any, Any]], Mapping[str, float]], eval_dataset: tf.data.Dataset,
                 output_cols: Sequence[str] | None = None, label_cols: Sequence[str] | None = None,
                 batch_size: int | None = None, predict_with_generate: bool = False,
                 generate_kwargs: Mapping[str, Any] | None = None, use_xla_generation: bool = False) -> None:
        super().__init__()
        if (generate_kwargs or use_xla_generation) and not predict_with_generate:
            raise ValueError("generate_kwargs and use_xla_generation need predict_with_generate=True; received "
                             f"generate_kwargs={generate_kwargs!r}, use_xla_generation={use_xla_generation}.")
        self.predict_with_generate = predict_with_generate
        self.generate_kwargs = dict(generate_kwargs or {})
        self.use_xla_generation = use_xla_generation
        self._xla_generate = None
        if not isinstance(eval_dataset, tf.data.Dataset):
            raise TypeError("eval_dataset must be a tf.data.Dataset (for example from prepare_tf_dataset); received "
                            f"{type(eval_dataset).__name__}.")
        if batch_size is not None:
            eval_dataset = eval_dataset.rebatch(batch_size)
        self.metric_fn = metric_fn
        self.eval_dataset = eval_dataset
        self.output_cols = list(output_cols) if output_cols else None
        self.label_cols = list(label_cols) if label_cols else None

    def _generate(self, x: Any) -> Any:
        """`model.generate` on the batch's main input and attention mask (`generate_kwargs` passed on), compiled
        with XLA when `use_xla_generation` (by the model itself when its `generate` takes `jit_compile`)."""
        inputs = x[getattr(self.model, "main_input_name", "input_ids")] if isinstance(x, Mapping) else x
        mask = x.get("attention_mask") if isinstance(x, Mapping) else None
        if not self.use_xla_generation:
            return self.model.generate(inputs, attention_mask=mask, **self.generate_kwargs)
        if "jit_compile" in inspect.signature(self.model.generate).parameters:
            return self.model.generate(inputs, attention_mask=mask, jit_compile=True, **self.generate_kwargs)
        if self._xla_generate is None:
            self._xla_generate = tf.function(
                lambda ids, m: self.model.generate(ids, attention_mask=m, **self.generate_kwargs), jit_compile=True)
        return self._xla_generate(inputs, mask)

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
            if self.predict_with_generate:
                predictions.setdefault("generated", []).append(np.asarray(self._generate(x)))
            else:
                outputs = self.model.predict_on_batch(x)
                ignored = getattr(getattr(self.model, "config", None), "keys_to_ignore_at_inference", None) or []
                wanted = self.output_cols or [k for k in outputs if k != "loss" and k not in ignored]
                for name in wanted:
                    predictions.setdefault(name, []).append(keras.tree.map_structure(np.asarray, outputs[name]))
            for name in label_cols:
                if name in found:
                    labels.setdefault(name, []).append(np.asarray(found[name]))
        if not labels:
            raise ValueError(f"KerasMetricCallback found none of the label columns {label_cols} in eval_dataset.")
        merged_predictions = {k: keras.tree.map_structure(lambda *parts: _concatenate(list(parts)), *v)
                              for k, v in predictions.items()}  # hidden states: a tuple of arrays per batch
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


def save_training_checkpoint(model: keras.Model, directory: str, epoch: int,
                             history: Mapping[str, list] | None = None) -> None:
    """Save weights, optimizer state, the finished `epoch` and the `history` so far into `directory`, atomically:
    a process killed at any point leaves the previous checkpoint loadable (`load_training_checkpoint` reads
    `DIRECTORY.previous` if the kill fell between the two renames). Under MultiWorkerMirroredStrategy only the chief
    writes (the workers hold the same values).

    Example:
        >>> save_training_checkpoint(model, "run/checkpoint", epoch=2)
    """
    if getattr(model, "optimizer", None) is None:
        raise RuntimeError("The model has no optimizer: compile it before saving a training checkpoint.")
    if not model.distribute_strategy.extended.should_checkpoint:
        return
    parent = os.path.dirname(os.path.abspath(directory))
    os.makedirs(parent, exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".checkpoint-", dir=parent)
    previous = directory + ".previous"
    try:
        np.savez(os.path.join(staging, CHECKPOINT_WEIGHTS), **_by_path(model.weights))
        np.savez(os.path.join(staging, CHECKPOINT_OPTIMIZER), **_optimizer_state(model.optimizer))
        with open(os.path.join(staging, CHECKPOINT_STATE), "w") as handle:
            json.dump({"epoch": int(epoch), "history": {k: [float(v) for v in values]
                                                        for k, values in (history or {}).items()}}, handle)
        if os.path.isdir(directory):
            shutil.rmtree(previous, ignore_errors=True)  # a complete checkpoint exists: an older one is stale
            os.replace(directory, previous)
        os.replace(staging, directory)  # where `directory` was missing, `previous` (if any) stays until here
        shutil.rmtree(previous, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _by_path(variables) -> dict[str, np.ndarray]:
    values = {}
    for variable in variables:
        values.setdefault(variable.path, keras.ops.convert_to_numpy(variable.value))
    return values


_POSITION_PREFIX = re.compile(r"^\d{6}:")


def _optimizer_key(path: str) -> str:
    """An optimizer variable's key: its path without the optimizer's name (`adam/bert_..._kernel_momentum` ->
    `bert_..._kernel_momentum`), which names the model variable it belongs to. Checkpoints written before keys were
    paths prefixed them with their position (`000003:adam/...`); the position is ignored."""
    return _POSITION_PREFIX.sub("", path).split("/", 1)[-1]


def _optimizer_state(optimizer: keras.optimizers.Optimizer) -> dict[str, np.ndarray]:
    state = {}
    for variable in optimizer.variables:
        if _optimizer_key(variable.path) in state:
            raise ValueError(f"Two optimizer variables share the path {variable.path!r}, so their state cannot be "
                             "saved by path; give the model's layers distinct names.")
        state[_optimizer_key(variable.path)] = keras.ops.convert_to_numpy(variable.value)
    return state


def _check_restorable(variables: dict[str, Any], values: dict[str, np.ndarray], what: str, directory: str,
                      allow_extra: bool) -> None:
    """Refuse, before anything is assigned, a checkpoint whose names or shapes do not match `variables`."""
    missing = [key for key in variables if key not in values]
    extra = [] if allow_extra else [key for key in values if key not in variables]
    if missing or extra:
        problems = ([f"{len(missing)} of its variables have no saved value (first: {missing[:3]})"] if missing else [])
        problems += [f"{len(extra)} saved values belong to no variable (first: {extra[:3]})"] if extra else []
        raise ValueError(
            f"The {what} in the checkpoint {directory} do not match this model: {'; '.join(problems)}. Load it into "
            "the model and optimizer it was saved from (same architecture, config, trainable layers and optimizer "
            "class)."
        )
    wrong = [(key, tuple(v.shape), values[key].shape) for key, v in variables.items()
             if tuple(v.shape) != values[key].shape]
    if wrong:
        raise ValueError(f"The {what} in the checkpoint {directory} have other shapes than this model's "
                         f"(name, model shape, saved shape; first: {wrong[:3]}). Load it into the model it was "
                         "saved from (same config).")


def load_training_checkpoint(model: keras.Model, directory: str) -> dict[str, Any]:
    """Restore weights and optimizer state saved by `save_training_checkpoint`; return `{"epoch": n, "history":
    {metric: [value per epoch]}}` (the history is empty for checkpoints written before it was saved).

    The model must be compiled with the same kind of optimizer. Continue with
    `model.fit(..., initial_epoch=n + 1)`.
    """
    if getattr(model, "optimizer", None) is None:
        raise RuntimeError("Compile the model (with the optimizer used for training) before loading a checkpoint.")
    if not os.path.isdir(directory) and os.path.isdir(directory + ".previous"):
        logger.warning("%s is missing: a save was interrupted between its two renames; loading %s.previous, the "
                       "checkpoint before it.", directory, directory)
        directory = directory + ".previous"
    missing = [name for name in (CHECKPOINT_WEIGHTS, CHECKPOINT_OPTIMIZER, CHECKPOINT_STATE)
               if not os.path.isfile(os.path.join(directory, name))]
    if missing:
        raise FileNotFoundError(f"{directory} is not a training checkpoint: it lacks {missing}.")
    with np.load(os.path.join(directory, CHECKPOINT_WEIGHTS)) as stored:
        weights = dict(stored)
    model_variables = {}
    for variable in model.weights:
        model_variables.setdefault(variable.path, variable)
    _check_restorable(model_variables, weights, "weights", directory, allow_extra=True)
    optimizer = model.optimizer
    if not optimizer.built:
        optimizer.build(model.trainable_variables)
    with np.load(os.path.join(directory, CHECKPOINT_OPTIMIZER)) as stored:
        states = {_optimizer_key(key): stored[key] for key in stored.files}
    optimizer_variables = {_optimizer_key(variable.path): variable for variable in optimizer.variables}
    _check_restorable(optimizer_variables, states, "optimizer states", directory, allow_extra=False)
    # Matched by path, not position: a model whose variables come in another order restores correctly.
    for variables, values in ((model_variables, weights), (optimizer_variables, states)):
        for key, variable in variables.items():
            variable.assign(values[key])
    with open(os.path.join(directory, CHECKPOINT_STATE)) as handle:
        state = json.load(handle)
    return {"epoch": int(state["epoch"]), "history": state.get("history", {})}


class TrainingCheckpoint(keras.callbacks.Callback):
    """Save a resumable training checkpoint into `directory` at the end of every epoch. With `resume=True`, a
    `fit` that finds a checkpoint there first restores it (weights, optimizer state) and continues after its epoch:
    rerunning the same script after a crash, or restarting every worker of a MultiWorkerMirroredStrategy cluster
    after one was killed, ends as the uninterrupted run would. `history` holds every epoch's logs, those before the
    restart included.

    Example:
        >>> checkpoint = TrainingCheckpoint("run/checkpoint", resume=True)
        >>> model.fit(train, epochs=5, callbacks=[checkpoint])  # run again after a crash: it resumes
        >>> checkpoint.history["loss"]  # all 5 epochs
    """

    def __init__(self, directory: str, resume: bool = False) -> None:
        super().__init__()
        self.directory = directory
        self.resume = resume
        self.history: dict[str, list[float]] = {}

    def on_train_begin(self, logs: dict | None = None) -> None:
        self.history = {}
        found = os.path.isdir(self.directory) or os.path.isdir(self.directory + ".previous")
        if self.resume and found:
            state = load_training_checkpoint(self.model, self.directory)
            self.history = {key: list(values) for key, values in state["history"].items()}
            keras_private.set_initial_epoch(self.model, state["epoch"] + 1)
            logger.info("Resuming from %s after epoch %d.", self.directory, state["epoch"])

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(float(value))
        save_training_checkpoint(self.model, self.directory, epoch, self.history)


class PushToHubCallback(keras.callbacks.Callback):
    """Save the model into `output_dir` and upload it to the Hub at each epoch end (`save_strategy="epoch"`) or
    every `save_steps` batches (`save_strategy="steps"`), without blocking training.

    Each save is frozen into a snapshot next to `output_dir` (same filesystem, so hard links, no copy) and uploaded
    by a background thread that waits for the previous upload (commits stay in order), then deletes its snapshot and
    ends; nothing is left behind when `fit` raises. The last upload is awaited when training ends, and an upload
    error is raised there. The model card is regenerated from the history at every push. With
    `checkpoint=True` a resumable training checkpoint goes to `checkpoint/` too (restore it with
    `model.load_repo_checkpoint`). The weights are saved as `save_pretrained(output_dir, safe_serialization=True)`
    writes them: safetensors in the PyTorch layout, which transformers, vLLM and the Hub's widgets read. The model
    must offer `save_pretrained`, `create_model_card` and `upload_folder_to_hub` (every `TFPreTrainedModel` does).

    Example:
        >>> model.fit(train, epochs=3, callbacks=[PushToHubCallback("out", hub_model_id="me/bert-imdb")])
    """

    def __init__(self, output_dir: str, save_strategy: str = "epoch", save_steps: int | None = None,
                 tokenizer=None, hub_model_id: str | None = None, hub_token: str | None = None,
                 checkpoint: bool = False, **model_card_args) -> None:
        super().__init__()
        if save_strategy not in ("epoch", "steps"):
            raise ValueError(f"save_strategy must be 'epoch' or 'steps'; received {save_strategy!r}.")
        if save_strategy == "steps" and (not isinstance(save_steps, int) or save_steps < 1):
            raise ValueError("save_strategy='steps' needs save_steps, a positive number of batches.")
        if checkpoint and save_strategy != "epoch":
            raise ValueError("checkpoint=True needs save_strategy='epoch' (a checkpoint resumes at an epoch).")
        self.output_dir = os.fspath(output_dir)
        self.save_strategy = save_strategy
        self.save_steps = save_steps
        self.tokenizer = tokenizer
        self.hub_model_id = hub_model_id or os.path.basename(os.path.abspath(self.output_dir))
        self.hub_token = hub_token
        self.checkpoint = checkpoint
        self.model_card_args = model_card_args
        self._logs: dict[str, list[float]] = {}
        self._last_upload: threading.Thread | None = None
        self._errors: list[Exception] = []

    def on_train_begin(self, logs=None) -> None:
        self._logs = {}
        self._errors = []

    def on_train_batch_end(self, batch: int, logs=None) -> None:
        if self.save_strategy == "steps" and (batch + 1) % self.save_steps == 0:
            self._push(f"Training in progress, step {batch + 1}")

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        for name, value in (logs or {}).items():
            self._logs.setdefault(name, []).append(float(value))
        if self.save_strategy == "epoch":
            self._push(f"Training in progress, epoch {epoch + 1}", epoch)

    def on_train_end(self, logs=None) -> None:
        if self._last_upload is not None:
            self._last_upload.join()  # each upload waits for the one before it: this awaits them all
        if self._errors:
            raise RuntimeError(f"{len(self._errors)} upload(s) to {self.hub_model_id} failed; the first error: "
                               f"{self._errors[0]!r}. The model is saved in {self.output_dir}: push it again with "
                               "model.push_to_hub or huggingface_hub.upload_folder.") from self._errors[0]

    def _upload(self, previous: threading.Thread | None, snapshot: str, message: str) -> None:
        try:
            if previous is not None:
                previous.join()
            self.model.upload_folder_to_hub(snapshot, self.hub_model_id, commit_message=message,
                                            token=self.hub_token)
        except Exception as err:  # noqa: BLE001  (kept for on_train_end; a thread cannot raise to fit)
            self._errors.append(err)
        finally:
            shutil.rmtree(snapshot, ignore_errors=True)

    def _push(self, message: str, epoch: int | None = None) -> None:
        self.model.save_pretrained(self.output_dir, safe_serialization=True)
        if self.tokenizer is not None:
            self.tokenizer.save_pretrained(self.output_dir)
        if self.checkpoint:
            save_training_checkpoint(self.model, os.path.join(self.output_dir, "checkpoint"), epoch)
        self.model.create_model_card(self.output_dir, self.model_card_args.get("model_name", self.hub_model_id
                                                                               .split("/")[-1]),
                                     history=self._logs, **{k: v for k, v in self.model_card_args.items()
                                                            if k != "model_name"})
        output_dir = os.path.abspath(self.output_dir)
        snapshot = tempfile.mkdtemp(prefix=f".{os.path.basename(output_dir)}-push-", dir=os.path.dirname(output_dir))
        try:
            _link_tree(output_dir, snapshot)
        except BaseException:
            shutil.rmtree(snapshot, ignore_errors=True)
            raise
        self._last_upload = threading.Thread(target=self._upload, args=(self._last_upload, snapshot, message),
                                             name="push-to-hub")
        self._last_upload.start()


def _link_tree(source: str, target: str, copy_below: int = 10 * 2**20) -> None:
    """Freeze a folder's current files under `target`: large files (weights, always replaced by renaming) are hard
    linked, small ones (a model card, a tokenizer, possibly rewritten in place) copied."""
    for root, directories, files in os.walk(source):
        directories[:] = [d for d in directories if not d.startswith(".")]
        relative = os.path.relpath(root, source)
        os.makedirs(os.path.join(target, relative), exist_ok=True)
        for name in files:
            if name.startswith("."):
                continue
            src, dst = os.path.join(root, name), os.path.join(target, relative, name)
            if os.path.getsize(src) >= copy_below:
                try:
                    os.link(src, dst)
                    continue
                except OSError:
                    pass
            shutil.copy2(src, dst)
