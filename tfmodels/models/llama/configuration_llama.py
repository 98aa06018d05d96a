"""`LlamaConfig`, and the rotary settings Llama, Mistral and Qwen2 configs share."""

from __future__ import annotations

from typing import Any

from tfmodels.configuration import PretrainedConfig
from tfmodels.layers.rotary import normalize_rope_scaling


def rope_settings(rope_theta: float, rope_scaling: dict | None, kwargs: dict[str, Any]) -> tuple[float, dict | None]:
    """`(rope_theta, rope_scaling)` in the reference's (transformers 4) fields, also from a `rope_parameters` entry
    of `kwargs` (removed from it), which transformers 5 writes instead.

    Example:
        >>> rope_settings(10000.0, None, {"rope_parameters": {"rope_type": "linear", "factor": 2.0,
        ...                                                  "rope_theta": 500000.0}})
        (500000.0, {'rope_type': 'linear', 'factor': 2.0})
    """
    parameters = kwargs.pop("rope_parameters", None)
    if parameters:
        parameters = dict(parameters)
        rope_theta = parameters.pop("rope_theta", rope_theta)
        if parameters.get("rope_type", parameters.get("type", "default")) != "default":
            rope_scaling = parameters
    if rope_scaling is not None:
        rope_scaling = dict(rope_scaling)
        normalized = normalize_rope_scaling(rope_scaling)  # validates
        if normalized is not None:
            rope_scaling["rope_type"] = normalized["rope_type"]
    return rope_theta, rope_scaling


class LlamaConfig(PretrainedConfig):
    """Configuration of a Llama model; the defaults are those of Llama-2-7B, as the reference's.

    `num_key_value_heads` below `num_attention_heads` gives grouped-query attention; `rope_scaling` takes the types
    `linear`, `dynamic` and `llama3` (transformers 5's `rope_parameters` is read too); `attention_bias` puts biases
    on the four attention projections, `mlp_bias` on the three feed-forward ones.

    Example:
        >>> config = LlamaConfig(vocab_size=1000, hidden_size=64, intermediate_size=172, num_hidden_layers=2,
        ...                      num_attention_heads=4, num_key_value_heads=2)
        >>> config.head_dim
        16
    """

    model_type = "llama"
    keys_to_ignore_at_inference = ["past_key_values"]

    def __init__(
        self,
        vocab_size: int = 32000,
        hidden_size: int = 4096,
        intermediate_size: int = 11008,
        num_hidden_layers: int = 32,
        num_attention_heads: int = 32,
        num_key_value_heads: int | None = None,
        hidden_act: str = "silu",
        max_position_embeddings: int = 2048,
        initializer_range: float = 0.02,
        rms_norm_eps: float = 1e-6,
        use_cache: bool = True,
        pad_token_id: int | None = None,
        bos_token_id: int | None = 1,
        eos_token_id: int | list[int] | None = 2,
        pretraining_tp: int = 1,
        tie_word_embeddings: bool = False,
        rope_theta: float = 10000.0,
        rope_scaling: dict | None = None,
        attention_bias: bool = False,
        attention_dropout: float = 0.0,
        mlp_bias: bool = False,
        head_dim: int | None = None,
        **kwargs: Any,
    ) -> None:
        self.vocab_size = vocab_size
        self.max_position_embeddings = max_position_embeddings
        self.hidden_size = hidden_size
        self.intermediate_size = intermediate_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.num_key_value_heads = num_attention_heads if num_key_value_heads is None else num_key_value_heads
        self.hidden_act = hidden_act
        self.initializer_range = initializer_range
        self.rms_norm_eps = rms_norm_eps
        self.pretraining_tp = pretraining_tp
        self.use_cache = use_cache
        self.rope_theta, self.rope_scaling = rope_settings(rope_theta, rope_scaling, kwargs)
        self.attention_bias = attention_bias
        self.attention_dropout = attention_dropout
        self.mlp_bias = mlp_bias
        self.head_dim = head_dim if head_dim is not None else hidden_size // num_attention_heads
        super().__init__(pad_token_id=pad_token_id, bos_token_id=bos_token_id, eos_token_id=eos_token_id,
                         tie_word_embeddings=tie_word_embeddings, **kwargs)
