"""The inputs of every model `call`: the reference's ways of passing them (keywords, a dict, a list), the
config's defaults for the output flags, and logits in float32."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Mapping
from typing import Any

import numpy as np
import tensorflow as tf

from tfmodels import input_checks

_BOOLEAN_FLAGS = {
    "output_attentions": "output_attentions",
    "output_hidden_states": "output_hidden_states",
    "return_dict": "use_return_dict",
    "use_cache": "use_cache",
}


def float32_logits(logits: tf.Tensor) -> tf.Tensor:
    """Logits in float32 whatever the compute dtype (mixed precision), as losses and metrics expect."""
    return logits if logits.dtype == tf.float32 else tf.cast(logits, tf.float32)


def unpack_inputs(call):
    """Decorator for `call` methods: accepts the inputs as keyword arguments, as a dict (or `ModelOutput`) in
    the first argument, or as a list/tuple in signature order; casts int64 inputs to int32; fills unset
    `output_attentions`, `output_hidden_states`, `return_dict` and `use_cache` from the config."""
    signature = inspect.signature(call)
    parameters = [name for name in signature.parameters if name != "self"]
    main_input = parameters[0]

    @functools.wraps(call)
    def wrapper(self, *args, **kwargs):
        try:
            bound = signature.bind(self, *args, **kwargs)
        except TypeError as err:
            raise TypeError(f"{type(self).__name__}.call(): {err}. Accepted inputs: {parameters}.") from None
        bound.apply_defaults()
        arguments = dict(bound.arguments)
        arguments.pop("self")
        first = arguments.get(main_input)
        if isinstance(first, Mapping):
            unknown = [key for key in first if key not in parameters]
            if unknown:
                raise ValueError(
                    f"{type(self).__name__} received input(s) {unknown} it does not accept. Accepted inputs: "
                    f"{parameters}. Remove those keys (prepare_tf_dataset drops such columns for you)."
                )
            arguments[main_input] = None
            arguments.update(first)
        elif isinstance(first, (list, tuple)):
            if len(first) > len(parameters):
                raise ValueError(f"{type(self).__name__} received {len(first)} positional inputs; at most "
                                 f"{len(parameters)} are accepted: {parameters}.")
            arguments.update(zip(parameters, first))
        for name, value in arguments.items():
            if isinstance(value, np.ndarray) or tf.is_tensor(value):
                if value.dtype in (np.int64, tf.int64):
                    arguments[name] = tf.cast(value, tf.int32)
        for name, attribute in _BOOLEAN_FLAGS.items():
            if name in arguments and arguments[name] is None:
                arguments[name] = getattr(self.config, attribute, None)
        return call(self, **self.check_inputs(arguments))

    return wrapper


def split_call_flags(args: tuple, kwargs: dict[str, Any]) -> tuple[tuple, dict[str, Any]]:
    """Move Python booleans and `training` out of a dict first argument into keyword arguments, as the reference
    accepted them there, and make its Python lists of ids and masks arrays; Keras 3 allows only tensors
    positionally. Dict entries override keywords of the same name.

    Example:
        >>> split_call_flags(({"input_ids": ids, "return_dict": False},), {})
        (({'input_ids': ids},), {'return_dict': False})
    """
    if not args or not isinstance(args[0], Mapping):
        return args, kwargs
    args = (input_checks.arrays_for_lists(args[0]), *args[1:])
    flags = {key: value for key, value in args[0].items()
             if key == "training" or isinstance(value, (bool, np.bool_))}
    if not flags:
        return args, kwargs
    inputs = {key: value for key, value in args[0].items() if key not in flags}
    return (inputs, *args[1:]), {**kwargs, **flags}
