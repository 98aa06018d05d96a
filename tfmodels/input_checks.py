"""Checks of a model's inputs at its boundary: dtypes, ranks and shapes, token ids inside the vocabulary and
lengths inside the position table, so that a careless input fails with what was expected instead of deep inside
TensorFlow, or, on compiled paths, not at all (XLA's gather clamps an id outside the table to its last row).

Eagerly, a bad input raises a `ValueError` naming it (a `TypeError` for a wrong dtype: float ids, text). In a graph (`tf.function`, Keras `fit` without XLA, an
exported signature), what the trace knows (dtypes, ranks, static shapes) raises a `ValueError` while tracing; what
only the data knows (ids, dynamic lengths) becomes an assertion that raises `tf.errors.InvalidArgumentError` with
the same message when the graph runs. XLA drops assertions: compiled paths check their data before compiling
(`generate(jit_compile=True)` its prompt, `fit`/`evaluate`/`predict` with `jit_compile=True` each batch, through
`InternalLossTrainer`).

Example:
    >>> check_token_ids(tf.constant([[5, 1200]]), "input_ids", vocab_size=1000)
    ValueError: input_ids holds token id 1200, outside the vocabulary of 1000 (ids 0 to 999). ...
"""

from __future__ import annotations

from typing import Any

import numpy as np
import tensorflow as tf

# Inputs holding token ids (checked against the vocabulary) and other integer inputs.
TOKEN_ID_INPUTS = ("input_ids", "decoder_input_ids")
INTEGER_INPUTS = TOKEN_ID_INPUTS + ("token_type_ids", "position_ids", "decoder_position_ids", "mc_token_ids")
# Masks: any numeric dtype, the shape of the ids they mask. (Messages of graph assertions avoid apostrophes, which
# TensorFlow escapes.)
MASKS = {"attention_mask": "input_ids", "decoder_attention_mask": "decoder_input_ids"}
EMBEDS = {"input_ids": "inputs_embeds", "decoder_input_ids": "decoder_inputs_embeds"}


def as_tensor(value: Any, name: str) -> tf.Tensor:
    """`value` as a tensor; a ValueError naming `name` when it cannot be one (ragged lists, strings, objects)."""
    if tf.is_tensor(value):
        return value
    try:
        array = np.asarray(value)
    except ValueError as err:  # ragged nested lists
        raise ValueError(f"{name} must be a rectangular array of numbers; received {type(value).__name__} "
                         f"({err}). Pad the rows to one length (the tokenizer's padding=True).") from None
    if array.dtype == object or array.dtype.kind in "USV":
        raise TypeError(f"{name} must hold numbers; received {type(value).__name__} of dtype {array.dtype}. Pass "
                         "the tokenizer's ids (return_tensors='np' or 'tf'), not text.")
    return tf.convert_to_tensor(array)


def arrays_for_lists(inputs: dict) -> dict:
    """Python lists given for id and mask inputs as arrays (Keras takes only tensors and arrays inside the first
    argument); `as_tensor`'s errors for text or ragged rows."""
    names = INTEGER_INPUTS + tuple(MASKS)
    return {name: as_tensor(value, name) if name in names and isinstance(value, (list, tuple)) else value
            for name, value in inputs.items()}


def _dtype(value) -> tf.DType:
    return tf.as_dtype(value.dtype)


def check_integer(value: tf.Tensor, name: str) -> None:
    """Token ids, token types and positions are integers."""
    dtype = _dtype(value)
    if not dtype.is_integer:
        raise TypeError(f"{name} must hold integer ids; received dtype {dtype.name}. Pass the tokenizer's ids "
                         f"unchanged, or cast them: tf.cast({name}, tf.int32).")


def check_rank(value: tf.Tensor, name: str, ranks: tuple[int, ...], layout: str) -> None:
    """`value` has one of `ranks` (static rank; unknown ranks pass)."""
    rank = value.shape.rank
    if rank is not None and rank not in ranks:
        raise ValueError(f"{name} must be {layout}; received shape {value.shape.as_list()} (rank {rank}). "
                         + ("Add the batch axis: ids[None, :]." if rank == min(ranks) - 1 else ""))


def check_token_ids(ids: tf.Tensor, name: str, vocab_size: int) -> list:
    """Every id in `[0, vocab_size)`: raises eagerly; returns the graph's assertions (empty eagerly)."""
    fix = ("If the tokenizer has added tokens, resize the embeddings: model.resize_token_embeddings(len(tokenizer)); "
           "otherwise the ids come from the tokenizer of another model.")
    if name == "token_type_ids":
        fix = f"This model has {vocab_size} token types (config.type_vocab_size)."
    if tf.executing_eagerly():
        values = np.asarray(ids)
        if values.size == 0:
            return []
        low, high = int(values.min()), int(values.max())
        if high >= vocab_size:
            raise ValueError(f"{name} holds token id {high}, outside the vocabulary of {vocab_size} (ids 0 to "
                             f"{vocab_size - 1}). {fix}")
        if low < 0:
            raise ValueError(f"{name} holds token id {low}; ids are 0 to {vocab_size - 1}. Negative ids (-100) "
                             "mark ignored labels, not inputs: pass the padding token's id instead.")
        return []
    ids = tf.cast(ids, tf.int64)
    return [
        tf.debugging.assert_less(ids, tf.constant(vocab_size, tf.int64), message=(
            f"{name} holds a token id outside the vocabulary of {vocab_size} (ids 0 to {vocab_size - 1}). {fix}")),
        tf.debugging.assert_non_negative(ids, message=f"{name} holds a negative token id; ids are 0 to "
                                                      f"{vocab_size - 1}."),
    ]


def check_length(length, name: str, limit: int, past_length=0) -> list:
    """`past_length + length` within `limit` positions: raises eagerly or statically; returns the graph's
    assertions otherwise."""
    fix = (f"Truncate the inputs to {limit} tokens (tokenizer(..., truncation=True, max_length={limit})), or use a "
           "model with more positions.")
    static_length = tf.get_static_value(length)
    static_past = tf.get_static_value(past_length)
    if static_length is not None and static_past is not None:
        if int(static_length) + int(static_past) > limit:
            past = f" after {int(static_past)} cached tokens" if int(static_past) else ""
            raise ValueError(f"{name} has {int(static_length)} tokens{past}; the model's positions cover {limit}. "
                             f"{fix}")
        return []
    return [tf.debugging.assert_less_equal(tf.cast(length + past_length, tf.int32), limit, message=(
        f"{name} is longer than the {limit} positions of the model. {fix}"))]


def shape_of(value: tf.Tensor) -> list[int] | tf.Tensor:
    """The shape as a list when it is fully known (always eagerly), else the dynamic `tf.shape`."""
    return value.shape.as_list() if value.shape.is_fully_defined() else tf.shape(value)


def check_mask_shape(mask: tf.Tensor, name: str, ids_shape, ids_name: str, same_length: bool) -> list:
    """A mask has its ids' batch (and, without a cache, their length): raises when both shapes are known."""
    axes = slice(None) if same_length else slice(0, -1)
    what = "shape" if same_length else "batch shape"
    static_mask, static_ids = shape_of(mask), ids_shape
    if isinstance(static_mask, list) and isinstance(static_ids, list):
        if static_mask[axes] != static_ids[axes] or len(static_mask) != len(static_ids):
            raise ValueError(f"{name} must have the {what} of {ids_name} {static_ids}; received {static_mask}. "
                             "Pass the mask the tokenizer returned with these ids.")
        return []
    return [tf.debugging.assert_equal(tf.shape(mask)[axes], tf.convert_to_tensor(ids_shape)[axes], message=(
        f"{name} must have the {what} of {ids_name}. Pass the mask the tokenizer returned with these ids."))]


def past_length_of(past_key_values) -> Any:
    """The number of cached positions of a `past_key_values` (0 without one): axis -2 of a layer's keys."""
    if past_key_values is None:
        return 0
    keys = past_key_values[0][0]  # a layer's keys: its first tensor, or row 0 of its [2, ...] tensor
    if not tf.is_tensor(keys):
        return np.shape(keys)[-2]
    return keys.shape[-2] if keys.shape[-2] is not None else tf.shape(keys)[-2]


def with_assertions(arguments: dict, assertions: list) -> dict:
    """The arguments, their id tensors made to wait for the graph's assertions."""
    if not assertions:
        return arguments
    with tf.control_dependencies(assertions):
        return {name: tf.identity(value) if name in INTEGER_INPUTS and tf.is_tensor(value) else value
                for name, value in arguments.items()}


def check_model_inputs(arguments: dict, vocab_size: int, embedding_dim: int, max_length: int | None,
                       token_ranks: tuple[int, ...], type_vocab_size: int | None, cached_ids: str) -> dict:
    """A model call's arguments checked (see the module docstring); returns them with tensors for array inputs
    and, in a graph, the id tensors depending on the assertions.

    `token_ranks` are the ranks `input_ids` may have (2: `[batch, seq]`; 3: `[batch, choices, seq]`);
    `cached_ids` names the ids that `past_key_values` / `cache_position` continue (`input_ids`, or
    `decoder_input_ids` for encoder-decoders); `max_length` is None for relative or rotary positions.
    """
    arguments = dict(arguments)
    assertions = []
    for name in INTEGER_INPUTS:
        if arguments.get(name) is not None:
            arguments[name] = as_tensor(arguments[name], name)
            check_integer(arguments[name], name)
            if _dtype(arguments[name]) not in (tf.int32, tf.int64):  # uint8, int16, ...: TF's gather takes neither
                arguments[name] = tf.cast(arguments[name], tf.int32)
    for ids_name, embeds_name in EMBEDS.items():
        ids, embeds = arguments.get(ids_name), arguments.get(embeds_name)
        ranks = token_ranks if ids_name == "input_ids" else (2,)
        layout = " or ".join({2: "[batch, sequence]", 3: "[batch, choices, sequence]"}[rank] for rank in ranks)
        if ids is not None:
            check_rank(ids, ids_name, ranks, layout)
            assertions += check_token_ids(ids, ids_name, vocab_size)
            shape = shape_of(ids)
        elif embeds is not None:
            embeds = arguments[embeds_name] = as_tensor(embeds, embeds_name)
            check_rank(embeds, embeds_name, tuple(rank + 1 for rank in ranks), layout[:-1] + ", embedding]")
            if embeds.shape[-1] is not None and embeds.shape[-1] != embedding_dim:
                raise ValueError(f"{embeds_name} must have the embedding size {embedding_dim} on its last axis; "
                                 f"received shape {embeds.shape.as_list()}.")
            shape = shape_of(embeds)[:-1]
        else:
            continue
        if isinstance(shape, list) and shape[-1] == 0:
            raise ValueError(f"{ids_name} holds no tokens (shape {shape}); pass at least one token per row.")
        cached = ids_name == cached_ids and (arguments.get("past_key_values") is not None
                                             or arguments.get("cache_position") is not None)
        mask_name = {"input_ids": "attention_mask", "decoder_input_ids": "decoder_attention_mask"}[ids_name]
        if arguments.get(mask_name) is not None:
            mask = arguments[mask_name] = as_tensor(arguments[mask_name], mask_name)
            assertions += check_mask_shape(mask, mask_name, shape, ids_name if ids is not None else embeds_name,
                                           same_length=not cached)
        if max_length is not None and arguments.get("cache_position") is None:
            past = past_length_of(arguments.get("past_key_values")) if cached else 0
            assertions += check_length(shape[-1], ids_name, max_length, past)
        token_types = arguments.get("token_type_ids") if ids_name == "input_ids" else None
        if token_types is not None and type_vocab_size is not None:
            assertions += check_token_ids(token_types, "token_type_ids", type_vocab_size)
    return with_assertions(arguments, assertions)


def float_input(value: Any, name: str, what: str, fix: str) -> tf.Tensor:
    """A float input (`pixel_values`, `input_features`) as a tensor: a ValueError when it is missing, a TypeError
    when it holds text or integers; `what` describes it and `fix` says how to make it.

    Example:
        >>> float_input(None, "pixel_values", "images [batch, channels, height, width]", "Use the image processor.")
        ValueError: Pass pixel_values: images [batch, channels, height, width]. Use the image processor.
    """
    if value is None:
        raise ValueError(f"Pass {name}: {what}. {fix}")
    if not tf.is_tensor(value):
        array = np.asarray(value)
        if array.dtype == object or array.dtype.kind in "USV":
            raise TypeError(f"{name} must hold numbers; received dtype {array.dtype}. {fix}")
        value = tf.convert_to_tensor(array)
    if not _dtype(value).is_floating:
        raise TypeError(f"{name} must be floats; received dtype {_dtype(value).name}. {fix}")
    return value


def check_pixel_values(arguments: dict, num_channels: int, image_size: int, patch_size: int) -> dict:
    """`pixel_values` checked: floats `[batch, channels, height, width]` with the model's channels, and the
    config's image size unless `interpolate_pos_encoding` (then at least one patch each way). Shapes the trace
    knows raise a ValueError; in a graph, unknown sizes become assertions.

    Example:
        >>> check_pixel_values({"pixel_values": np.zeros((1, 224, 224, 3), np.float32)}, 3, 224, 16)
        ValueError: pixel_values must be [batch, channels, height, width] with 3 channels; received [1, 224, 224, 3]...
    """
    arguments = dict(arguments)
    pixels = float_input(arguments.get("pixel_values"), "pixel_values", "images as floats [batch, channels, height, "
                         "width]", "Decode, resize and normalise images with the model's image_processor (or serve "
                         "encoded images through the export's serving_image_bytes signature).")
    shape = pixels.shape
    layout = f"[batch, channels, height, width] with {num_channels} channels"
    if shape.rank is not None and (shape.rank != 4 or shape[1] not in (None, num_channels)):
        hint = " Channels come first: tf.transpose(images, [0, 3, 1, 2])." if (
            shape.rank == 4 and shape[-1] == num_channels) else ""
        raise ValueError(f"pixel_values must be {layout}; received {shape.as_list()}.{hint}")
    interpolate = bool(arguments.get("interpolate_pos_encoding"))
    assertions = []
    for axis, side in ((2, "height"), (3, "width")):
        size = shape[axis] if shape.rank == 4 else None
        if interpolate:
            message = f"pixel_values is narrower than one patch ({patch_size} pixels) in {side}."
            if size is not None and size < patch_size:
                raise ValueError(message + f" Received shape {shape.as_list()}.")
            if size is None:
                assertions.append(tf.debugging.assert_greater_equal(tf.shape(pixels)[axis], patch_size,
                                                                    message=message))
            continue
        message = (f"pixel_values must be {image_size} pixels in {side} (config.image_size); resize the images with "
                   "the image processor, or pass interpolate_pos_encoding=True to resample the positions.")
        if size is not None and size != image_size:
            raise ValueError(message + f" Received shape {shape.as_list()}.")
        if size is None:
            assertions.append(tf.debugging.assert_equal(tf.shape(pixels)[axis], image_size, message=message))
    if assertions:
        with tf.control_dependencies(assertions):
            pixels = tf.identity(pixels)
    arguments["pixel_values"] = pixels
    return arguments


def check_audio_features(arguments: dict, num_mel_bins: int, frames: int) -> dict:
    """`input_features` checked: floats `[batch, num_mel_bins, frames]` (the feature extractor pads or cuts every
    waveform to 30 s: `frames` = 2 * `max_source_positions`). Shapes the trace knows raise a ValueError; in a
    graph, unknown sizes become assertions.

    Example:
        >>> check_audio_features({"input_features": np.zeros((1, 80, 1000), np.float32)}, 80, 3000)
        ValueError: input_features must be [batch, 80 mel bins, 3000 frames]; received [1, 80, 1000]. ...
    """
    arguments = dict(arguments)
    fix = ("Make them with the model's WhisperFeatureExtractor, which pads or cuts every waveform to 30 s "
           "(tfmodels.audio_processing).")
    features = float_input(arguments.get("input_features"), "input_features",
                           f"log-mel features [batch, {num_mel_bins}, {frames}]", fix)
    shape = features.shape
    expected = f"[batch, {num_mel_bins} mel bins, {frames} frames]"
    if shape.rank is not None and (shape.rank != 3 or shape[1] not in (None, num_mel_bins)
                                   or shape[2] not in (None, frames)):
        raise ValueError(f"input_features must be {expected}; received {shape.as_list()}. {fix}")
    if shape.rank == 3 and (shape[1] is None or shape[2] is None):
        check = tf.debugging.assert_equal(tf.shape(features)[1:], tf.constant([num_mel_bins, frames]),
                                          message=f"input_features must be {expected}. {fix}")
        with tf.control_dependencies([check]):
            features = tf.identity(features)
    arguments["input_features"] = features
    return arguments
