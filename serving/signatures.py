"""Serving functions and signatures for Keras models that follow a small protocol.

The protocol: the model has `input_signature` (a dict of `tf.TensorSpec`), its call accepts that dict as first
argument, and it returns a dict of outputs. `ServingMixin` adds `serving` (the `tf.function` the default signature
wraps) and `serving_output` (what a signature may return: tensors only).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import tensorflow as tf

# Output name suffix -> the config flag that must be on for the output to be served.
OPTIONAL_OUTPUTS = {"hidden_states": "output_hidden_states", "attentions": "output_attentions",
                    "past_key_values": "use_cache"}


class ServingMixin:
    """Adds `serving`, `serving_output` and the deprecated `eager_serving` to a Keras model. Mix in before
    `keras.Model`.

    Example:
        >>> model.serving(model.dummy_inputs)["logits"]
    """

    def serving_output(self, output: Mapping) -> dict[str, tf.Tensor]:
        """Outputs as a signature may return them: a flat dict of tensors, no None, no loss.

        Hidden states, attentions and the key/value cache are served only when the config asks for them
        (`output_hidden_states`, `output_attentions`, `use_cache`); their per-layer tuples become one stacked
        tensor with the layer as first axis.
        """
        if not isinstance(output, Mapping):
            raise TypeError(f"serving_output expects the model's dict of outputs; received {type(output).__name__}.")
        config = getattr(self, "config", None)
        served = {}
        for name, value in output.items():
            if name == "loss" or value is None:
                continue
            flag = next((flag for suffix, flag in OPTIONAL_OUTPUTS.items() if name.endswith(suffix)), None)
            if flag is not None and not getattr(config, flag, False):
                continue
            if isinstance(value, (tuple, list)):
                value = tf.stack(value)
            served[name] = value
        return served

    @tf.function
    def serving(self, inputs: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        """The function behind the default signatures: call the model and keep what `serving_output` serves."""
        return self.serving_output(self(inputs, training=False))

    def eager_serving(self, inputs: dict[str, tf.Tensor]) -> dict[str, tf.Tensor]:
        """Deprecated alias of `serving`."""
        warnings.warn("eager_serving is deprecated; use serving.", FutureWarning, stacklevel=2)
        return self.serving(inputs)


def int64_specs(specs: Mapping[str, tf.TensorSpec]) -> dict[str, tf.TensorSpec]:
    """The same specs with int32 replaced by int64 (many TF Serving clients send int64)."""
    return {name: tf.TensorSpec(spec.shape, tf.int64 if spec.dtype == tf.int32 else spec.dtype, name=spec.name)
            for name, spec in specs.items()}


def default_signatures(model) -> dict[str, tuple]:
    """`{name: (function, [input specs])}`: `serving_default` on the model's int32 `input_signature` and, when it
    has int32 inputs, `int64_serving` on the same inputs as int64."""
    specs = dict(model.input_signature)
    if not specs:
        raise ValueError(f"{type(model).__name__}.input_signature is empty; a serving signature needs inputs.")
    signatures = {"serving_default": (model.serving, [specs])}
    if any(spec.dtype == tf.int32 for spec in specs.values()):
        def int64_serving(inputs):
            # Cast, then reuse the int32 trace of `serving` instead of tracing the whole model a second time.
            return model.serving({name: tf.cast(value, specs[name].dtype) for name, value in inputs.items()})

        signatures["int64_serving"] = (int64_serving, [int64_specs(specs)])
    return signatures
