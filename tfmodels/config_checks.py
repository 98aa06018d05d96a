"""Checks of a config before a model allocates anything: field types and ranges, and a size estimate refused when
the weights could not fit in this machine's memory (a `config.json` with `"vocab_size": 1000000000000` asks for
terabytes; TensorFlow would try for seconds, then fail with `ResourceExhaustedError`).

Example:
    >>> check_config(BertConfig(hidden_size="abc"))
    ConfigError: BertConfig.hidden_size must be a positive integer; received 'abc' (str). ...
"""

from __future__ import annotations

import os
from typing import Any

from tfmodels.errors import ConfigError

# Sizes of every architecture's config (the reference's names): positive integers when set.
SIZE_FIELDS = (
    "vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
    "max_position_embeddings", "num_key_value_heads", "head_dim", "embedding_size", "num_hidden_groups",
    "inner_group_num", "n_embd", "n_layer", "n_head", "n_positions", "n_inner", "n_ctx", "d_model", "d_ff", "d_kv",
    "num_heads", "num_layers", "num_decoder_layers", "encoder_layers", "decoder_layers", "encoder_attention_heads",
    "decoder_attention_heads", "encoder_ffn_dim", "decoder_ffn_dim", "dim", "hidden_dim", "n_heads", "n_layers",
    "relative_attention_num_buckets", "relative_attention_max_distance", "sliding_window", "image_size", "patch_size",
    "num_channels", "num_mel_bins", "max_source_positions", "max_target_positions",
)
# Sizes that may be 0 (RoBERTa-style models without token types).
COUNT_FIELDS = ("type_vocab_size",)
# Probabilities in [0, 1].
PROBABILITY_FIELDS = (
    "hidden_dropout_prob", "attention_probs_dropout_prob", "classifier_dropout", "classifier_dropout_prob",
    "resid_pdrop", "embd_pdrop", "attn_pdrop", "summary_first_dropout", "dropout", "attention_dropout",
    "activation_dropout", "dropout_rate", "qa_dropout", "seq_classif_dropout", "classif_dropout",
)
# Positive numbers.
POSITIVE_FIELDS = ("layer_norm_eps", "rms_norm_eps", "layer_norm_epsilon", "initializer_range", "rope_theta",
                   "init_std", "initializer_factor")
# The share of this machine's memory the weights may take before a model is refused.
MEMORY_SHARE = 1.0


def _describe(value: Any) -> str:
    return f"{value!r} ({type(value).__name__})"


def check_fields(config) -> None:
    """Types and ranges of the size, probability and epsilon fields a config has set."""
    for key in getattr(type(config), "sub_configs", {}):  # nested configs (CLIP's towers) first
        if getattr(config, key, None) is not None:
            check_fields(getattr(config, key))
    name = type(config).__name__
    aliases = getattr(config, "attribute_map", {})  # `hidden_size` -> GPT-2's `n_embd`: report the stored name
    for field in dict.fromkeys(aliases.get(field, field) for field in SIZE_FIELDS + COUNT_FIELDS):
        value = getattr(config, field, None)
        if value is None:
            continue
        minimum = 0 if field in COUNT_FIELDS or any(aliases.get(count) == field for count in COUNT_FIELDS) else 1
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise ConfigError(f"{name}.{field} must be {'a non-negative' if minimum == 0 else 'a positive'} "
                              f"integer; received {_describe(value)}. Fix it in config.json or pass {field}=... "
                              "to from_pretrained.")
    for field in PROBABILITY_FIELDS:
        value = getattr(config, field, None)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise ConfigError(f"{name}.{field} is a probability: a number from 0 to 1; received {_describe(value)}.")
    for field in POSITIVE_FIELDS:
        value = getattr(config, field, None)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
            raise ConfigError(f"{name}.{field} must be a positive number; received {_describe(value)}.")


def _first(config, *fields: str) -> int:
    for field in fields:
        value = getattr(config, field, None)
        if value:
            return int(value)
    return 0


def estimated_parameters(config) -> int:
    """A rough count of a config's parameters (embeddings, and per layer attention and feed-forward), enough to
    tell a real model from an absurd one.

    Example:
        >>> estimated_parameters(BertConfig())  # BERT-base has 110M: the estimate errs high (a gate per layer)
        137080320
    """
    nested = [getattr(config, key) for key in getattr(type(config), "sub_configs", {}) if getattr(config, key, None)]
    if nested:  # CLIP: its towers
        return sum(estimated_parameters(sub_config) for sub_config in nested)
    hidden = _first(config, "hidden_size", "n_embd", "d_model", "dim")
    layers = (_first(config, "num_hidden_layers", "n_layer", "n_layers")
              or _first(config, "num_layers") + _first(config, "num_decoder_layers")
              or _first(config, "encoder_layers") + _first(config, "decoder_layers"))
    ffn = _first(config, "intermediate_size", "n_inner", "d_ff", "encoder_ffn_dim", "hidden_dim") or 4 * hidden
    vocab = _first(config, "vocab_size")
    positions = _first(config, "max_position_embeddings", "n_positions")
    embedding = _first(config, "embedding_size") or hidden
    return vocab * embedding + positions * embedding + layers * (4 * hidden * hidden + 3 * hidden * ffn)


def physical_memory() -> int | None:
    """This machine's memory in bytes (None where the OS does not say)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, OSError, ValueError):
        return None


def check_size(config, bytes_per_parameter: int, allow_large_model: bool = False) -> None:
    """Refuse a config whose weights alone exceed this machine's memory, unless `allow_large_model`."""
    memory = physical_memory()
    if allow_large_model or memory is None:
        return
    needed = estimated_parameters(config) * bytes_per_parameter
    if needed > MEMORY_SHARE * memory:
        raise ConfigError(
            f"{type(config).__name__} describes a model of about {needed / 2**30:,.1f} GiB of weights "
            f"({estimated_parameters(config):,} parameters), more than this machine's {memory / 2**30:,.1f} GiB: "
            f"check vocab_size ({getattr(config, 'vocab_size', None)}) and the layer sizes in config.json. For a "
            "genuinely large model, pass allow_large_model=True (to the model class or from_pretrained).")


def check_against_checkpoint(config, checkpoint_bytes: int, allow_large_model: bool = False) -> None:
    """Refuse a config that describes a model far larger than the checkpoint it is loaded with (a wrong size in
    `config.json`), before the model allocates it: more than 8 times the files' size in parameters of one byte,
    with 256 MiB of slack for small models (a fresh head, a resized vocabulary).

    Example:
        >>> check_against_checkpoint(GPT2Config(vocab_size=10**9), checkpoint_bytes=500_000)  # ConfigError
    """
    parameters = estimated_parameters(config)
    if allow_large_model or parameters <= 8 * checkpoint_bytes + 256 * 2**20:
        return
    raise ConfigError(
        f"{type(config).__name__} describes a model of about {parameters:,} parameters, but the checkpoint's files "
        f"hold {checkpoint_bytes / 2**20:,.1f} MiB: a size in config.json is wrong (vocab_size="
        f"{getattr(config, 'vocab_size', None)}, hidden size {_first(config, 'hidden_size', 'n_embd', 'd_model')}, "
        f"{_first(config, 'num_hidden_layers', 'n_layer', 'num_layers')} layers). Fix config.json, or pass "
        "allow_large_model=True if the model is meant to be that much larger than its weights.")


def check_config(config, bytes_per_parameter: int = 4, allow_large_model: bool = False) -> None:
    """`check_fields`, then `check_size`: what a model checks before it creates a variable."""
    check_fields(config)
    check_size(config, bytes_per_parameter, allow_large_model)
