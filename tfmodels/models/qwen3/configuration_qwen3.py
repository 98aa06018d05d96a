"""`Qwen3Config`."""

from __future__ import annotations

from typing import Any

from tfmodels.configuration import PretrainedConfig
from tfmodels.models.llama.configuration_llama import rope_settings
from tfmodels.models.qwen2.configuration_qwen2 import qwen_layer_types


class Qwen3Config(PretrainedConfig):
    """Configuration of a Qwen3 model; the defaults are the reference's (Qwen3-8B-like).

    `head_dim` is set apart from `hidden_size / num_attention_heads`; `attention_bias` puts biases on the four
    attention projections (none in the released models). With `use_sliding_window`, layers from
    `max_window_layers` on attend within `sliding_window` positions (`layer_types` lists each layer's kind).

    Example:
        >>> config = Qwen3Config(vocab_size=1000, hidden_size=64, intermediate_size=172, num_hidden_layers=2,
        ...                      num_attention_heads=4, num_key_value_heads=2, head_dim=32)
        >>> config.layer_types
        ['full_attention', 'full_attention']
    """

    model_type = "qwen3"
    keys_to_ignore_at_inference = ["past_key_values"]

    def __init__(
        self,
        vocab_size: int = 151936,
        hidden_size: int = 4096,
        intermediate_size: int = 22016,
        num_hidden_layers: int = 32,
        num_attention_heads: int = 32,
        num_key_value_heads: int | None = 32,
        head_dim: int = 128,
        hidden_act: str = "silu",
        max_position_embeddings: int = 32768,
        initializer_range: float = 0.02,
        rms_norm_eps: float = 1e-6,
        use_cache: bool = True,
        tie_word_embeddings: bool = False,
        rope_theta: float = 10000.0,
        rope_scaling: dict | None = None,
        attention_bias: bool = False,
        use_sliding_window: bool = False,
        sliding_window: int | None = 4096,
        max_window_layers: int = 28,
        layer_types: list[str] | None = None,
        attention_dropout: float = 0.0,
        **kwargs: Any,
    ) -> None:
        self.vocab_size = vocab_size
        self.max_position_embeddings = max_position_embeddings
        self.hidden_size = hidden_size
        self.intermediate_size = intermediate_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.num_key_value_heads = num_attention_heads if num_key_value_heads is None else num_key_value_heads
        self.head_dim = head_dim
        self.hidden_act = hidden_act
        self.initializer_range = initializer_range
        self.rms_norm_eps = rms_norm_eps
        self.use_cache = use_cache
        self.rope_theta, self.rope_scaling = rope_settings(rope_theta, rope_scaling, kwargs)
        self.attention_bias = attention_bias
        self.use_sliding_window = use_sliding_window
        self.sliding_window = sliding_window if use_sliding_window else None
        self.max_window_layers = max_window_layers
        self.attention_dropout = attention_dropout
        self.layer_types = qwen_layer_types(layer_types, self.sliding_window, max_window_layers, num_hidden_layers)
        super().__init__(tie_word_embeddings=tie_word_embeddings, **kwargs)
