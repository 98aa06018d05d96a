"""Train a Keras model on its own loss output, following the Keras 3 trainer contract.

`InternalLossTrainer` is a mixin for `keras.Model` subclasses that follow a small protocol: `call` names its label
arguments (`labels`, `start_positions`, ...), accepts a dict of inputs and labels as its first argument (as Keras
passes batches), and returns a dict with a `loss` entry when labels are given. It overrides only what Keras asks
subclasses to override: how a batch is split between inputs and labels (`train_step`/`test_step`/`predict_step`,
which then defer to Keras' own steps), `compute_loss` and `compute_metrics`. Keras therefore keeps doing the loss
tracking, loss scaling for mixed precision, gradient application and distribution-aware reductions itself, so
`history` reports the true mean loss on one device and on several.

Labels are matched to the outputs they score from the outputs the model really returns (`label_to_output_map`).
Labels of -100 reach every compiled metric as a sample weight of 0 (combined with any user sample weight).
"""

from __future__ import annotations

import copy
import inspect
import logging
from collections.abc import Mapping
from typing import Any

import keras
import tensorflow as tf

from keras_integration.keras_private import scale_loss_for_distribution

logger = logging.getLogger(__name__)

IGNORE_INDEX = -100
INTERNAL_LOSS_VALUES = ("auto", "auto_with_warning", "passthrough", None)
# Outputs that no label scores: a forward pass returns them besides the scored outputs (logits).
AUXILIARY_OUTPUTS = ("loss", "past_key_values", "hidden_states", "attentions", "cross_attentions")
# Boolean switches a caller may put in the input dict (as the reference allowed); passed on as keywords.
CALL_FLAGS = ("output_attentions", "output_hidden_states", "return_dict", "use_cache")
# The usual output of each label, when a model scores several outputs (`labels` -> `prediction_logits` for BERT
# pre-training is found by elimination, see `label_to_output_map`).
USUAL_OUTPUT = {
    "labels": "logits",
    "start_positions": "start_logits",
    "end_positions": "end_logits",
    "next_sentence_label": "seq_relationship_logits",
    "sentence_order_label": "sop_logits",
    "mc_labels": "mc_logits",
}


# ---- Keras private API: used here, in `_maybe_symbolic_build` and by `compute_metrics`; each name is listed with its
# reason and the public alternative considered in `keras_integration.keras_private`. `CompileMetrics` internals: Keras hands
# sample weights only to `weighted_metrics`, but labels of -100 must be ignored by every metric (a user's `Metric`
# subclass sees only y_true, y_pred and sample_weight), and a flat metric list must become one fresh instance per
# scored output once the outputs are known.


def _per_output_metrics(metrics: Any, outputs: list[str]) -> Any:
    """A flat metric list applied to several outputs: one fresh copy of every metric object per output."""
    if not isinstance(metrics, (list, tuple)) or len(outputs) < 2:
        return metrics
    return {name: [_fresh(metric) for metric in metrics] for name in outputs}


def _fresh(metric: Any) -> Any:
    if isinstance(metric, keras.metrics.Metric):
        return type(metric).from_config(metric.get_config())
    return copy.copy(metric)  # a string or a function: Keras makes a new metric object from it


def _update_compiled_metrics(model: keras.Model, y_true: dict, y_pred: dict, mask: dict, sample_weight: dict) -> None:
    """Update `metrics` with the -100 mask as sample weight and `weighted_metrics` with mask x user weight."""
    compiled = model._compile_metrics
    if not compiled.built:
        compiled._user_metrics = _per_output_metrics(compiled._user_metrics, list(y_pred))
        compiled._user_weighted_metrics = _per_output_metrics(compiled._user_weighted_metrics, list(y_pred))
        single = len(y_pred) == 1
        compiled.build(*(next(iter(v.values())) if single else v for v in (y_true, y_pred)))

    def flat(values: dict) -> list:
        return [next(iter(values.values()))] if len(y_pred) == 1 else compiled._flatten_y(values)

    labels, outputs = flat(y_true), flat(y_pred)
    for metrics, weights in ((compiled._flat_metrics, mask), (compiled._flat_weighted_metrics, sample_weight)):
        for metric, label, output, weight in zip(metrics, labels, outputs, flat(weights)):
            if metric:
                metric.update_state(label, output, sample_weight=weight)
# ---- end of Keras private API ----------------------------------------------------------------------------------


def call_argument_names(model: keras.Model) -> list[str]:
    """Names of the arguments `model.call` accepts (the possible input and label keys)."""
    return [name for name in inspect.signature(model.call).parameters if name not in ("self", "kwargs")]


def label_names(model: keras.Model) -> list[str]:
    """The label arguments of `model.call`: names containing `label`, plus `start_positions`/`end_positions`."""
    return [name for name in call_argument_names(model)
            if "label" in name or name in ("start_positions", "end_positions")]


def label_to_output_map(model: keras.Model, output_names: list[str] | None = None) -> dict[str, str]:
    """Which output each label scores, derived from the outputs the model returns (`output_names`).

    One label and one scored output (anything but loss, cache, hidden states, attentions) match whatever their
    names (`next_sentence_label` -> `logits` for the next-sentence head). With several, each label takes its usual
    output (`start_positions` -> `start_logits`) and a label left over takes the scored output left over
    (`labels` -> `prediction_logits` in BERT pre-training). Without `output_names`, the usual names are assumed.

    Example:
        >>> label_to_output_map(nsp_model, ["loss", "logits"])
        {'next_sentence_label': 'logits'}
    """
    labels = label_names(model)
    if output_names is None:
        return {label: USUAL_OUTPUT.get(label, label) for label in labels}
    scored = [name for name in output_names if name not in AUXILIARY_OUTPUTS]
    if len(labels) == 1 and len(scored) == 1:
        return {labels[0]: scored[0]}
    mapping = {label: USUAL_OUTPUT.get(label, label) for label in labels
               if USUAL_OUTPUT.get(label, label) in scored}
    left_labels = [label for label in labels if label not in mapping]
    left_outputs = [name for name in scored if name not in mapping.values()]
    if len(left_labels) == 1 and len(left_outputs) == 1:
        mapping[left_labels[0]] = left_outputs[0]
    elif left_labels:
        raise ValueError(f"{type(model).__name__}: cannot tell which of the outputs {left_outputs} the labels "
                         f"{left_labels} score. Name each scored output after its label (or its usual output, as in "
                         f"{USUAL_OUTPUT}).")
    return {label: mapping[label] for label in labels}


def _for_multi_worker(logs: dict) -> dict:
    """Give scalar logs a leading axis under MultiWorkerMirroredStrategy: Keras reduces step logs across
    workers with `strategy.reduce("MEAN", value, axis=0)`, which rejects scalars (and yields one for `[1]`)."""
    if not isinstance(tf.distribute.get_strategy(), tf.distribute.MultiWorkerMirroredStrategy):
        return logs
    return {name: tf.reshape(value, [1]) if value.shape.rank == 0 else value for name, value in logs.items()}


def _is_per_example(weight: tf.Tensor) -> bool:
    rank = weight.shape.rank
    return rank is not None and (rank <= 1 or (rank == 2 and weight.shape[1] == 1))


def _per_example(weight: tf.Tensor) -> tf.Tensor:
    """A sample weight of shape `[batch]` or `[batch, 1]` as `[batch]`; any other shape is refused."""
    if not _is_per_example(weight):
        raise ValueError(
            f"Sample weights of shape {weight.shape} give a weight per position; the model's own loss takes one "
            "weight per example (shape [batch] or [batch, 1]). Pass per-example weights, or compile with a Keras "
            "loss, which applies a weight per position."
        )
    return tf.reshape(tf.cast(weight, tf.float32), (-1,))


def _broadcast_to_label(weight: tf.Tensor, label: tf.Tensor) -> tf.Tensor:
    """A per-example weight `[batch]` (or `[batch, 1]`) shaped to multiply a label of any rank; a weight shaped
    like the label (one per position) is taken as it is."""
    if not _is_per_example(weight) and weight.shape.rank == label.shape.rank:
        return tf.cast(weight, tf.float32)
    weight = _per_example(weight)
    return tf.reshape(weight, tf.concat([tf.shape(weight), tf.ones([label.shape.rank - 1], tf.int32)], 0))


def _one_weight(sample_weight: Mapping) -> tf.Tensor | None:
    """The one weight array Keras repeats for every label; different weights per label are refused (the model's
    own loss is one value over all labels)."""
    weights = [weight for weight in sample_weight.values() if weight is not None]
    if not weights:
        return None
    checks = [tf.debugging.assert_equal(
        tf.cast(weights[0], tf.float32), tf.cast(other, tf.float32),
        message=f"Different sample weights per label {list(sample_weight)}: the model's own loss combines every "
                "label into one value, so it takes one weight per example. Pass one array, or compile with a "
                "Keras loss to weight each output separately.") for other in weights[1:] if other is not weights[0]]
    with tf.control_dependencies(checks):
        return tf.identity(weights[0])


def _per_position(weight: tf.Tensor, output: tf.Tensor) -> tf.Tensor:
    """A per-example weight spread over the positions of a Keras loss on `output` (one value per position, all
    axes of the output but the last), as token-level heads need; other weights are left as given."""
    if weight.shape.rank not in (1, 2) or (weight.shape.rank == 2 and weight.shape[1] != 1) or output.shape.rank < 3:
        return weight
    weight = _broadcast_to_label(weight, output[..., 0])
    return tf.broadcast_to(weight, tf.shape(output)[:-1])


class InternalLossTrainer:
    """Keras training on the model's own loss. Mix in before `keras.Model`.

    Example:
        >>> model.compile(optimizer=keras.optimizers.Adam(3e-5), metrics=["accuracy"])  # no loss: internal one
        >>> model.fit(dataset_of_dicts_with_labels, epochs=3)
    """

    _using_internal_loss = False
    # Call flags without which the model returns no loss (CLIP's `return_loss=True`): `fit` and `evaluate` on the
    # model's own loss pass them with every batch.
    loss_call_flags: Mapping[str, Any] = {}

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
        own loss output. With a Keras loss, that loss is applied to the output its labels match. A flat list of
        metrics applies to every scored output (QA start and end logits), each with its own metric objects."""
        self._using_internal_loss = isinstance(loss, str) and loss in INTERNAL_LOSS_VALUES or loss is None
        if loss == "auto_with_warning":
            logger.warning(
                "No loss specified in compile(): the model's own loss output is used (pass loss='auto' to silence "
                "this message)."
            )
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
    def _by_label(self, values: Any, what: str) -> Any:
        """Labels (or their sample weights) keyed by label name; keys naming an output are mapped back."""
        labels = label_names(self)
        if not isinstance(values, Mapping):
            if len(labels) > 1:
                raise ValueError(f"{type(self).__name__} takes several labels {labels}; pass {what} as a dict keyed "
                                 "by label name.")
            return {labels[0]: values} if labels else values  # no label argument: y scores the first output
        from_output = {output: label for label, output in label_to_output_map(self).items()}
        keyed = {key if key in labels else from_output.get(key, key): value for key, value in values.items()}
        if len(labels) == 1 and len(keyed) == 1:  # one label, named after any output (`logits`)
            keyed = {labels[0]: next(iter(keyed.values()))}
        unknown = [key for key in keyed if key not in labels]
        if unknown and labels:
            raise ValueError(f"{what} {unknown} do not match this model's label arguments {labels}; key them by "
                             "label name (or by the name of the output they score).")
        return keyed

    def _split_batch(self, data):
        x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(data)
        labels = label_names(self)
        x = dict(x) if isinstance(x, Mapping) else {call_argument_names(self)[0]: x}
        y = {name: x[name] for name in labels if name in x} if y is None else self._by_label(y, "Labels")
        if sample_weight is not None:
            sample_weight = self._by_label(sample_weight, "Sample weights")
        if self._using_internal_loss and isinstance(y, Mapping):
            x.update(y)
            x.update(self.loss_call_flags)
        else:
            x = {key: value for key, value in x.items() if key not in labels}
        return x, y, sample_weight

    def train_step(self, data):
        return _for_multi_worker(super().train_step(self._split_batch(data)))

    def test_step(self, data):
        return _for_multi_worker(super().test_step(self._split_batch(data)))

    def predict_step(self, data):
        """What a forward pass gives a user: the outputs without the loss, and without the key/value cache unless
        the inputs ask for it (`{"use_cache": True, ...}`)."""
        x, _, _ = keras.utils.unpack_x_y_sample_weight(data)
        x = dict(x) if isinstance(x, Mapping) else {call_argument_names(self)[0]: x}
        x = {key: value for key, value in x.items() if key not in label_names(self)}
        flags = {name: x.pop(name) for name in CALL_FLAGS if isinstance(x.get(name), bool)}
        flags.pop("return_dict", None)  # predictions are a dict of outputs
        if "use_cache" in call_argument_names(self):
            flags.setdefault("use_cache", False)
        outputs = self(x, training=False, **flags)
        return {key: value for key, value in outputs.items() if key != "loss"}

    # ---- inputs checked before XLA -------------------------------------------------------------------------------
    def check_inputs(self, arguments: dict) -> dict:
        """The model's check of a call's inputs (token ids in range, shapes); models override it. Returns the
        arguments, in a graph depending on the checks' assertions."""
        return arguments

    def _checked_data(self, data: Any) -> Any:
        """With `jit_compile`, the inputs checked outside the compiled step, which cannot raise (XLA drops
        assertions and clamps out-of-range ids): a dataset's batches by a `map`, in-memory inputs at once."""
        if not self.jit_compile or data is None:
            return data
        if isinstance(data, tf.data.Dataset):
            def check(*element):
                x, y, sample_weight = keras.utils.unpack_x_y_sample_weight(element[0] if len(element) == 1
                                                                           else element)
                if isinstance(x, Mapping):
                    x = self.check_inputs(dict(x))
                return x if y is None and sample_weight is None else keras.utils.pack_x_y_sample_weight(
                    x, y, sample_weight)
            return data.map(check)
        if isinstance(data, Mapping):
            return self.check_inputs(dict(data))
        if isinstance(data, tuple) and data and isinstance(data[0], Mapping):  # validation_data=(x, y)
            return (self.check_inputs(dict(data[0])), *data[1:])
        return data

    def fit(self, x=None, y=None, batch_size=None, *args, **kwargs):
        """`keras.Model.fit`; also records the batch size it trains with (for the model card). With
        `jit_compile`, batches are checked before the compiled step (see `_checked_data`)."""
        from keras_integration.model_card import batch_size_of

        self._train_batch_size = batch_size_of(x, batch_size)
        if "validation_data" in kwargs:
            kwargs["validation_data"] = self._checked_data(kwargs["validation_data"])
        return super().fit(self._checked_data(x), y, batch_size, *args, **kwargs)

    def evaluate(self, x=None, y=None, *args, **kwargs):
        """`keras.Model.evaluate`, with `jit_compile` checking batches before the compiled step."""
        return super().evaluate(self._checked_data(x), y, *args, **kwargs)

    def predict(self, x, *args, **kwargs):
        """`keras.Model.predict`, with `jit_compile` checking batches before the compiled step."""
        return super().predict(self._checked_data(x), *args, **kwargs)

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Under a strategy Keras builds metrics, loss and optimizer state from one batch, before any step runs. It
        # would call `compute_metrics` on the unsplit batch (no labels: the metrics cannot build) and take that
        # batch with `strategy.reduce("MEAN", batch)`, which MultiWorkerMirroredStrategy rejects for a dict. The
        # first local replica's batch, split like a training batch, has the same structure and specs.
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
            self._symbolic_build(data_batch=self._split_batch(data_batch))

    # ---- loss and metrics ---------------------------------------------------------------------------------------
    def _matched(self, y: Any, y_pred: Mapping) -> tuple[dict, dict]:
        """Labels and the outputs they score, keyed by output name."""
        if not isinstance(y, Mapping):  # a model without label arguments: y scores its first output
            first = next(name for name in y_pred if name not in AUXILIARY_OUTPUTS)
            return {first: y}, {first: y_pred[first]}
        to_output = label_to_output_map(self, list(y_pred))
        labels = {to_output.get(key, key): value for key, value in y.items()}
        missing = [name for name in labels if name not in y_pred]
        if missing:
            raise ValueError(f"The model returned no {missing} output to compare the labels with; it returned "
                             f"{list(y_pred)}.")
        return labels, {name: y_pred[name] for name in labels}

    def _matched_weights(self, y: Any, y_pred: Mapping, sample_weight: Any) -> dict:
        """Sample weights keyed like `_matched`'s labels (one weight for all when not given per label)."""
        labels, _ = self._matched(y, y_pred)
        if sample_weight is None or not isinstance(sample_weight, Mapping):
            return {name: sample_weight for name in labels}
        weights, _ = self._matched(sample_weight, y_pred)
        return {name: weights.get(name) for name in labels}

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The model's own loss (mean over labelled examples), or the compiled Keras loss on the matched outputs.

        A sample weight multiplies the model's per-example loss before the mean (a model whose loss is one value
        for the whole batch cannot be weighted: a clear error says so). Like Keras' own losses, the value is scaled
        by 1 / replicas under a `tf.distribute` strategy, so that summed gradients and the loss tracker (which
        scales back) are right on any number of devices.
        """
        if not self._using_internal_loss:
            labels, outputs = self._matched(y, y_pred)
            weights = {name: None if weight is None else _per_position(weight, outputs[name])
                       for name, weight in self._matched_weights(y, y_pred, sample_weight).items()}
            if len(labels) == 1:
                labels, outputs, weights = (next(iter(v.values())) for v in (labels, outputs, weights))
            elif all(weight is None for weight in weights.values()):
                weights = None
            return super().compute_loss(x=x, y=labels, y_pred=outputs, sample_weight=weights, training=training)
        if "loss" not in y_pred:
            raise ValueError(
                f"{type(self).__name__} returned no loss: no labels reached it. Include the labels "
                f"{label_names(self)} in the input dict or pass them as y, or compile with a Keras loss."
            )
        loss = tf.cast(y_pred["loss"], tf.float32)
        if isinstance(sample_weight, Mapping):  # Keras repeats one weight array per label
            sample_weight = _one_weight(sample_weight)
        if sample_weight is not None:
            weight = _per_example(sample_weight)
            if loss.shape.rank != 1 or (loss.shape[0] == 1 and weight.shape[0] != 1):
                raise ValueError(
                    f"{type(self).__name__} returned a loss of shape {loss.shape}, one value for the whole batch, so "
                    "sample weights cannot be applied to it. Return one loss per example (shape [batch]), or "
                    "compile with a Keras loss, which applies sample weights itself."
                )
            loss = loss * weight
        loss = tf.reduce_mean(loss)
        for extra in self.losses:
            loss = loss + tf.cast(tf.reduce_sum(extra), tf.float32)
        return scale_loss_for_distribution(loss)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        """Update compiled metrics on the outputs the labels score. Labels of -100 are replaced by 0 and given a
        sample weight of 0, for `metrics` and `weighted_metrics` alike (the latter also get the user's weight)."""
        if y is None or (isinstance(y, Mapping) and not y) or self._compile_metrics is None:
            return self.get_metrics_result()
        labels, outputs = self._matched(y, y_pred)
        weights = self._matched_weights(y, y_pred, sample_weight)
        masks, combined = {}, {}
        for name, label in labels.items():
            # One weight per label value; a trailing axis of 1 (`[batch, 1]` binary labels) is one per example, the
            # shape every metric accepts (F1Score takes nothing else).
            target = label[..., 0] if label.shape.rank >= 2 and label.shape[-1] == 1 else label
            mask = None
            if label.dtype.is_integer:
                mask = tf.cast(tf.not_equal(target, IGNORE_INDEX), tf.float32)
                labels[name] = tf.where(label == IGNORE_INDEX, tf.zeros_like(label), label)
            weight = weights[name]
            if weight is not None:
                weight = _broadcast_to_label(weight, target)
                weight = weight if mask is None else mask * weight
            masks[name], combined[name] = mask, weight if weight is not None else mask
        _update_compiled_metrics(self, labels, outputs, masks, combined)
        return self.get_metrics_result()
