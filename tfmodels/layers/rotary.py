"""Rotary position embeddings (RoPE): the `(cos, sin)` tables the attention block rotates queries and keys with, from
position ids, `rope_theta` and the reference's `rope_scaling` types (`linear`, `dynamic`, `llama3`, `longrope`),
computed as transformers' `ROPE_INIT_FUNCTIONS` and its dynamic update do (in float32, as PyTorch does)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import tensorflow as tf

from tfmodels.errors import ConfigError

ROPE_TYPES = ("default", "linear", "dynamic", "llama3", "longrope")
_REQUIRED = {"linear": ("factor",), "dynamic": ("factor",),
             "llama3": ("factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings"),
             "longrope": ("short_factor", "long_factor")}
_ALIASES = {"su": "longrope"}  # Phi-3's early configs


def normalize_rope_scaling(rope_scaling: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """Validate a config's `rope_scaling` and return it with `rope_type` set (the legacy key `type` is read too);
    None or type `default` mean no scaling.

    Example:
        >>> normalize_rope_scaling({"type": "linear", "factor": 2.0})
        {'type': 'linear', 'factor': 2.0, 'rope_type': 'linear'}
    """
    if rope_scaling is None:
        return None
    if not isinstance(rope_scaling, Mapping):
        raise ConfigError(f"rope_scaling must be a dict such as {{'rope_type': 'linear', 'factor': 2.0}} or None; "
                          f"received {rope_scaling!r}.")
    scaling = dict(rope_scaling)
    rope_type = scaling.get("rope_type", scaling.get("type"))
    rope_type = _ALIASES.get(rope_type, rope_type)
    if rope_type not in ROPE_TYPES:
        raise ConfigError(f"rope_scaling type {rope_type!r} is not supported; supported types: {list(ROPE_TYPES)} "
                          f"(received rope_scaling={rope_scaling!r}).")
    scaling["rope_type"] = rope_type
    missing = [key for key in _REQUIRED.get(rope_type, ()) if scaling.get(key) is None]
    if missing:
        raise ConfigError(f"rope_scaling of type {rope_type!r} needs {missing}; received {rope_scaling!r}.")
    if scaling.get("partial_rotary_factor", 1.0) != 1.0:
        raise ConfigError(f"partial_rotary_factor={scaling['partial_rotary_factor']} is not supported: the whole "
                          "head dimension is rotated. Remove it from rope_scaling.")
    return None if rope_type == "default" else scaling


def _inverse_frequencies(base, head_dim: int):
    """`1 / base^(2i / dim)` in float32 (numpy for a number, TensorFlow for a tensor `base`)."""
    if tf.is_tensor(base):
        exponents = tf.range(0, head_dim, 2, dtype=tf.float32) / float(head_dim)
        return 1.0 / tf.pow(base, exponents)
    exponents = np.arange(0, head_dim, 2, dtype=np.float32) / np.float32(head_dim)
    return (np.float32(1.0) / np.power(np.float32(base), exponents)).astype(np.float32)


def _llama3_frequencies(inv_freq: np.ndarray, scaling: Mapping[str, Any]) -> np.ndarray:
    """Llama 3.1's frequency-dependent interpolation: long wavelengths divided by `factor`, short ones kept, the band
    between smoothed."""
    factor = np.float32(scaling["factor"])
    low, high = float(scaling["low_freq_factor"]), float(scaling["high_freq_factor"])
    old_context = float(scaling["original_max_position_embeddings"])
    wavelen = np.float32(2 * math.pi) / inv_freq
    scaled = np.where(wavelen > old_context / low, inv_freq / factor, inv_freq).astype(np.float32)
    smooth = ((np.float32(old_context) / wavelen - np.float32(low)) / np.float32(high - low)).astype(np.float32)
    smoothed = (1 - smooth) * scaled / factor + smooth * scaled
    medium = ~(wavelen < old_context / high) & ~(wavelen > old_context / low)
    return np.where(medium, smoothed, scaled).astype(np.float32)


def _longrope_attention_factor(scaling: Mapping[str, Any], max_position_embeddings: int) -> float:
    """LongRoPE's scale of the tables: the config's `attention_factor`, else `sqrt(1 + ln(factor) / ln(original))`
    with `factor` the config's or `max_position_embeddings / original_max_position_embeddings`."""
    if scaling.get("attention_factor") is not None:
        return float(scaling["attention_factor"])
    original = float(scaling["original_max_position_embeddings"])
    factor = scaling.get("factor") or max_position_embeddings / original
    return 1.0 if factor <= 1.0 else math.sqrt(1 + math.log(factor) / math.log(original))


class RotaryEmbedding:
    """The rotary tables of a model: `rotary(position_ids, dtype)` -> `(cos, sin)`, each `[batch, seq, head_dim]`
    (`batch` is 1 for `[1, seq]` positions). No weights: the frequencies follow from the config. `head_dim` is the
    rotated width: a model rotating part of each head (Phi-3's `partial_rotary_factor`) passes that part's size.

    `scaling` is a config's `rope_scaling` (see `normalize_rope_scaling`): `linear` divides the frequencies by
    `factor`; `dynamic` (NTK) raises the base once the longest position exceeds `max_position_embeddings`, from the
    positions of each call; `llama3` rescales the frequency bands; `longrope` (Phi-3) divides them by
    `short_factor`, or by `long_factor` in a call whose longest position passes `original_max_position_embeddings`,
    and scales the tables by its attention factor.

    Example:
        >>> rotary = RotaryEmbedding(head_dim=64, theta=500000.0, scaling={"rope_type": "llama3", "factor": 8.0,
        ...     "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192})
        >>> cos, sin = rotary(tf.range(10)[None], tf.float32)  # [1, 10, 64] each
    """

    def __init__(self, head_dim: int, theta: float = 10000.0, scaling: Mapping[str, Any] | None = None,
                 max_position_embeddings: int = 2048):
        if head_dim % 2:
            raise ConfigError(f"Rotary embeddings need an even head dimension; received head_dim={head_dim}.")
        self.head_dim, self.theta = head_dim, float(theta)
        self.max_position_embeddings = int(max_position_embeddings)
        self.scaling = normalize_rope_scaling(scaling)
        self.rope_type = "default" if self.scaling is None else self.scaling["rope_type"]
        inv_freq = _inverse_frequencies(self.theta, head_dim)
        self.attention_factor = 1.0
        if self.rope_type == "linear":
            inv_freq = (inv_freq / np.float32(self.scaling["factor"])).astype(np.float32)
        elif self.rope_type == "llama3":
            inv_freq = _llama3_frequencies(inv_freq, self.scaling)
        elif self.rope_type == "longrope":
            if self.scaling.get("original_max_position_embeddings") is None:
                raise ConfigError("longrope scaling needs original_max_position_embeddings (Phi-3 configs keep it "
                                  f"beside rope_scaling); received rope_scaling={scaling!r}.")
            factors = {kind: np.asarray(self.scaling[f"{kind}_factor"], np.float32) for kind in ("short", "long")}
            if any(f.shape != inv_freq.shape for f in factors.values()):
                raise ConfigError(f"rope_scaling's short_factor and long_factor need {inv_freq.shape[0]} values each "
                                  f"(half the rotated head dimension, {head_dim}); received "
                                  f"{[len(f) for f in factors.values()]}.")
            powers = np.power(np.float32(self.theta), np.arange(0, head_dim, 2, dtype=np.float32) / np.float32(
                head_dim)).astype(np.float32)
            self.short_inv_freq, self.long_inv_freq = (
                (np.float32(1.0) / (factors[kind] * powers)).astype(np.float32) for kind in ("short", "long"))
            inv_freq = self.short_inv_freq
            self.attention_factor = _longrope_attention_factor(self.scaling, self.max_position_embeddings)
        self.inv_freq = inv_freq

    def frequencies(self, position_ids: tf.Tensor) -> tf.Tensor:
        """The inverse frequencies `[head_dim / 2]` for these positions (they depend on them for `dynamic` and
        `longrope` only)."""
        if self.rope_type == "longrope":
            longest = tf.reduce_max(position_ids) + 1
            original = int(self.scaling["original_max_position_embeddings"])
            return tf.where(longest > original, tf.constant(self.long_inv_freq), tf.constant(self.short_inv_freq))
        if self.rope_type != "dynamic":
            return tf.constant(self.inv_freq)
        factor = float(self.scaling["factor"])
        limit = self.max_position_embeddings
        seq_len = tf.cast(tf.maximum(tf.reduce_max(position_ids) + 1, limit), tf.float32)
        dim = self.head_dim
        base = self.theta * tf.pow(factor * seq_len / limit - (factor - 1.0), dim / (dim - 2))
        return _inverse_frequencies(base, dim)

    def __call__(self, position_ids, dtype: tf.DType = tf.float32) -> tuple[tf.Tensor, tf.Tensor]:
        position_ids = tf.convert_to_tensor(position_ids)
        inv_freq = self.frequencies(tf.cast(position_ids, tf.int32))
        freqs = tf.cast(position_ids, tf.float32)[..., None] * inv_freq
        angles = tf.concat([freqs, freqs], axis=-1)
        cos, sin = tf.cos(angles), tf.sin(angles)
        if self.attention_factor != 1.0:
            cos, sin = cos * self.attention_factor, sin * self.attention_factor
        return tf.cast(cos, dtype), tf.cast(sin, dtype)
