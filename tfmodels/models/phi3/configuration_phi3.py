"""`Phi3Config`."""

from __future__ import annotations

from typing import Any

from tfmodels.configuration import PretrainedConfig
from tfmodels.errors import ConfigError
from tfmodels.models.llama.configuration_llama import rope_settings


def _without_partial_factor(scaling: Any, partial_rotary_factor: float) -> tuple[Any, float]:
    """`(scaling without its partial_rotary_factor, the factor)`: transformers 5 keeps Phi-3's partial rotary factor
    inside `rope_parameters`; here it is a field of its own, as in the reference's files."""
    if not isinstance(scaling, dict) or "partial_rotary_factor" not in scaling:
        return scaling, partial_rotary_factor
    scaling = dict(scaling)
    return scaling, scaling.pop("partial_rotary_factor")


class Phi3Config(PretrainedConfig):
    """Configuration of a Phi-3 model; the defaults are the reference's (Phi-3-mini-4k).

    `rope_scaling` is None or LongRoPE (`{"type": "longrope", "short_factor": [...], "long_factor": [...]}`; the
    early names `su` and `yarn` are read as `longrope`, as the reference does): the long factors apply to a pass
    whose positions go past `original_max_position_embeddings`. `partial_rotary_factor` rotates that fraction of
    each head; `sliding_window` (None for none) limits every layer's attention; `resid_pdrop` drops out each
    block's output while training.

    Example:
        >>> config = Phi3Config(vocab_size=1000, hidden_size=64, intermediate_size=172, num_hidden_layers=2,
        ...                     num_attention_heads=4, max_position_embeddings=128,
        ...                     original_max_position_embeddings=64, rope_scaling={"type": "longrope",
        ...                     "short_factor": [1.0] * 8, "long_factor": [2.0] * 8})
    """

    model_type = "phi3"
    keys_to_ignore_at_inference = ["past_key_values"]

    def __init__(
        self,
        vocab_size: int = 32064,
        hidden_size: int = 3072,
        intermediate_size: int = 8192,
        num_hidden_layers: int = 32,
        num_attention_heads: int = 32,
        num_key_value_heads: int | None = None,
        resid_pdrop: float = 0.0,
        embd_pdrop: float = 0.0,
        attention_dropout: float = 0.0,
        hidden_act: str = "silu",
        max_position_embeddings: int = 4096,
        original_max_position_embeddings: int = 4096,
        initializer_range: float = 0.02,
        rms_norm_eps: float = 1e-5,
        use_cache: bool = True,
        tie_word_embeddings: bool = False,
        rope_theta: float = 10000.0,
        rope_scaling: dict | None = None,
        partial_rotary_factor: float = 1.0,
        bos_token_id: int | None = 1,
        eos_token_id: int | list[int] | None = 32000,
        pad_token_id: int | None = 32000,
        sliding_window: int | None = None,
        **kwargs: Any,
    ) -> None:
        rope_scaling, partial_rotary_factor = _without_partial_factor(rope_scaling, partial_rotary_factor)
        if "rope_parameters" in kwargs:
            kwargs["rope_parameters"], partial_rotary_factor = _without_partial_factor(kwargs["rope_parameters"],
                                                                                       partial_rotary_factor)
        if isinstance(rope_scaling, dict) and rope_scaling.get("rope_type", rope_scaling.get("type")) == "yarn":
            rope_scaling = {**rope_scaling, "rope_type": "longrope"}  # Phi-3's early name
        self.vocab_size = vocab_size
        self.hidden_size = hidden_size
        self.intermediate_size = intermediate_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.num_key_value_heads = num_attention_heads if num_key_value_heads is None else num_key_value_heads
        self.resid_pdrop = resid_pdrop
        self.embd_pdrop = embd_pdrop
        self.attention_dropout = attention_dropout
        self.hidden_act = hidden_act
        self.max_position_embeddings = max_position_embeddings
        self.original_max_position_embeddings = original_max_position_embeddings
        self.initializer_range = initializer_range
        self.rms_norm_eps = rms_norm_eps
        self.use_cache = use_cache
        self.rope_theta, self.rope_scaling = rope_settings(rope_theta, rope_scaling, kwargs)
        if self.rope_scaling is not None:
            if self.rope_scaling["rope_type"] != "longrope":
                raise ConfigError(f"Phi-3's rope_scaling is None or of type 'longrope'; received {rope_scaling!r}.")
            if rope_scaling is not None and "rope_type" not in rope_scaling:  # kept as written (`type` alone)
                self.rope_scaling.pop("rope_type")
        if not 0.0 < partial_rotary_factor <= 1.0:
            raise ConfigError(f"partial_rotary_factor must be in (0, 1]; received {partial_rotary_factor}.")
        self.partial_rotary_factor = partial_rotary_factor
        self.sliding_window = sliding_window
        super().__init__(bos_token_id=bos_token_id, eos_token_id=eos_token_id, pad_token_id=pad_token_id,
                         tie_word_embeddings=tie_word_embeddings, **kwargs)
