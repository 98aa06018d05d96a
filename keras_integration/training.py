"""Train a Keras model on its own loss output, following the Keras 3 trainer contract.

`InternalLossTrainer` is a mixin for `keras.Model` subclasses that follow a small protocol: `call` names its label
arguments (`labels`, `start_positions`, ...), accepts a dict of inputs and labels as its first argument (as Keras
passes batches), and returns a dict with a `loss` entry when labels are given. It overrides only what Keras asks subclasses to
override: how a batch is split between inputs and labels (`train_step`/`test_step`/`predict_step`, which then defer
to Keras' own steps), `compute_loss` and `compute_metrics`. Keras therefore keeps doing the loss tracking, loss
scaling for mixed precision, gradient application and distribution-aware reductions itself, so `history` reports the
true mean loss on one device and on several.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Mapping
from typing import Any

import keras
import tensorflow as tf
from keras.src.backend.common.masking import set_keras_mask  # Keras' own metric masking
from keras.src.losses.loss import scale_loss_for_distribution

logger = logging.getLogger(__name__)

IGNORE_INDEX = -100
INTERNAL_LOSS_VALUES = ("auto", "auto_with_warning", "passthrough", None)
# Labels -> the outputs they score, for the heads whose names differ from `labels` -> `logits`.
DEFAULT_LABEL_TO_OUTPUT = {
    "labels": "logits",
    "start_positions": "start_logits",
    "end_positions": "end_logits",
    "next_sentence_label": "seq_relationship_logits",
}


def call_argument_names(model: keras.Model) -> list[str]:
    """Names of the arguments `model.call` accepts (the possible input and label keys)."""
    return [name for name in inspect.signature(model.call).parameters if name not in ("self", "kwargs")]


def label_names(model: keras.Model) -> list[str]:
    """The label arguments of `model.call`: names containing `label`, plus `start_positions`/`end_positions`."""
    return [name for name in call_argument_names(model)
            if "label" in name or name in ("start_positions", "end_positions")]


def label_to_output_map(model: keras.Model) -> dict[str, str]:
    """Which output each label scores (`labels` -> `logits`, or `prediction_logits` for pre-training heads)."""
    mapping = {name: DEFAULT_LABEL_TO_OUTPUT.get(name, name) for name in label_names(model)}
    if "next_sentence_label" in mapping and "labels" in mapping:
        mapping["labels"] = "prediction_logits"
    return mapping


def _for_multi_worker(logs: dict) -> dict:
    """Give scalar logs a leading axis under MultiWorkerMirroredStrategy: Keras reduces step logs across
    workers with `strategy.reduce("MEAN", value, axis=0)`, which rejects scalars (and yields one for `[1]`)."""
    if not isinstance(tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy):
        return logs
    return {name: tf.reshape(value, [1]) if value.shape.rank == 0 else value for name, value in logs.items()}


class InternalLossTrainer:
    """Keras training on the model's own loss. Mix in before `keras.Model`.

    Example:
        >>> model.compile(optimizer=keras.optimizers.Adam(3e-5), metrics=["accuracy"])  # no loss: internal one
        >>> model.fit(dataset_of_dicts_with_labels, epochs=3)
    """

    _using_internal_loss = False

    def compile(
        self,
        optimizer: Any = "rmsprop",
        loss: Any = "auto_with_warning",
        metrics: Any = None,
        loss_weights: Any = None,
        weighted_metrics: Any = None,
        run_eagerly: bool | None = None,
        steps_per_execution: int | None = None,
        jit_compile: bool | str = "auto",
        **kwargs: Any,
    ) -> None:
        """`keras.Model.compile`, where `loss` left at "auto", "auto_with_warning" or None trains on the model's
        own loss output. With a Keras loss, that loss is applied to the output its labels match."""
        self._using_internal_loss = isinstance(loss, str) and loss in INTERNAL_LOSS_VALUES or loss is None
        if loss == "auto_with_warning":
            logger.warning(
                "No loss specified in compile(): the model's own loss output is used (pass loss='auto' to silence "
                "this message)."
            )
        outputs = list(dict.fromkeys(label_to_output_map(self).values()))
        if len(outputs) > 1:  # several scored outputs (QA start/end): a flat metric list applies to each of them
            if isinstance(metrics, (list, tuple)):
                metrics = {name: list(metrics) for name in outputs}
            if isinstance(weighted_metrics, (list, tuple)):
                weighted_metrics = {name: list(weighted_metrics) for name in outputs}
        super().compile(
            optimizer=optimizer,
            loss=None if self._using_internal_loss else loss,
            metrics=metrics,
            loss_weights=loss_weights,
            weighted_metrics=weighted_metrics,
            run_eagerly=run_eagerly,
            steps_per_execution=steps_per_execution if steps_per_execution is not None else 1,
            jit_compile=jit_compile,
            **kwargs,
        )

    # ---- how a batch is split into inputs and labels ---------------------------------------------------------------
    def _split_batch(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        labels = label_names(self)
        to_output = label_to_output_map(self)
        from_output = {output: label for label, output in to_output.items()}
        x = dict(x) if isinstance(x, Mapping) else {call_argument_names(self)[0]: x}
        if y is None:
            y = {name: x[name] for name in labels if name in x}
        elif isinstance(y, Mapping):
            y = {from_output.get(key, key): value for key, value in y.items()}
        else:
            if len(labels) != 1:
                raise ValueError(
                    f"{type(self).__name__} takes several labels {labels}; pass y as a dict keyed by label name."
                )
            y = {labels[0]: y}
        unknown = [key for key in y if key not in labels]
        if unknown:
            raise ValueError(f"Labels {unknown} do not match this model's label arguments {labels}.")
        if self._using_internal_loss:
            x.update(y)
        else:
            x = {key: value for key, value in x.items() if key not in labels}
        return x, y, sample_weight

    def train_step(self, data):
        return _for_multi_worker(super().train_step(self._split_batch(data)))

    def test_step(self, data):
        return _for_multi_worker(super().test_step(self._split_batch(data)))

    def predict_step(self, data):
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        if isinstance(x, Mapping):
            x = {key: value for key, value in x.items() if key not in label_names(self)}
        outputs = self(x, training=False)
        return {key: value for key, value in outputs.items() if key != "loss"}

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Keras builds metrics and optimizer state from one batch, which under a strategy it gets with
        # `strategy.reduce("MEAN", batch)`; MultiWorkerMirroredStrategy rejects that for a dict of inputs. The
        # first local replica's batch has the same structure and specs, which is all the build needs.
        strategy = getattr(self, "_distribute_strategy", None)
        if iterator is None or strategy is None:
            return super()._maybe_symbolic_build(iterator=iterator, data_batch=data_batch)
        for _, _, batches in iterator:
            data_batch = tf.nest.map_structure(
                lambda value: strategy.experimental_local_results(value)[0]
                if isinstance(value, tf.distribute.DistributedValues) else value,
                next(batches),
            )
            break
        with strategy.scope():
            self._symbolic_build(data_batch=data_batch)

    # ---- loss and metrics ---------------------------------------------------------------------------------------
    def _matched(self, y: dict, y_pred: Mapping) -> tuple[dict, dict]:
        """Labels and the outputs they score, keyed by output name."""
        to_output = label_to_output_map(self)
        labels = {to_output[key]: value for key, value in y.items()}
        missing = [name for name in labels if name not in y_pred]
        if missing:
            raise ValueError(f"The model returned no {missing} output to compare the labels with; it returned "
                             f"{list(y_pred)}.")
        return labels, {name: y_pred[name] for name in labels}

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The model's own loss (mean over labelled examples), or the compiled Keras loss on the matched outputs.

        Like Keras' own losses, the value is scaled by 1 / replicas under a `tf.distribute` strategy, so that
        summed gradients and the loss tracker (which scales back) are right on any number of devices.
        """
        if not self._using_internal_loss:
            labels, outputs = self._matched(y, y_pred)
            if len(labels) == 1:
                labels, outputs = next(iter(labels.values())), next(iter(outputs.values()))
            return super().compute_loss(x=x, y=labels, y_pred=outputs, sample_weight=sample_weight,
                                        training=training)
        if "loss" not in y_pred:
            raise ValueError(
                f"{type(self).__name__} returned no loss: no labels reached it. Include the labels "
                f"{label_names(self)} in the input dict or pass them as y, or compile with a Keras loss."
            )
        loss = tf.cast(y_pred["loss"], tf.float32)
        if sample_weight is not None and loss.shape.rank == 1 and loss.shape[0] != 1:
            loss = loss * tf.cast(tf.reshape(sample_weight, (-1,)), tf.float32)
        loss = tf.reduce_mean(loss)
        for extra in self.losses:
            loss = loss + tf.cast(tf.reduce_sum(extra), tf.float32)
        return scale_loss_for_distribution(loss)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        """Update compiled metrics on the outputs the labels score; labels of -100 are masked out."""
        if not y or self._compile_metrics is None:
            return super().compute_metrics(x, None, None, sample_weight)
        labels, outputs = self._matched(y, y_pred)
        for name, label in labels.items():
            if label.dtype.is_integer:
                # A Keras mask reaches weighted and unweighted metrics alike (sample weights only the former).
                outputs[name] = tf.identity(outputs[name])
                set_keras_mask(outputs[name], tf.not_equal(label, IGNORE_INDEX))
                labels[name] = tf.where(label == IGNORE_INDEX, tf.zeros_like(label), label)
        if len(labels) == 1:
            name = next(iter(labels))
            return super().compute_metrics(x, labels[name], outputs[name], sample_weight)
        return super().compute_metrics(x, labels, outputs, sample_weight)
