"""`Gemma3TextConfig`."""

from __future__ import annotations

from typing import Any

from tfmodels.configuration import PretrainedConfig
from tfmodels.errors import ConfigError
from tfmodels.models.llama.configuration_llama import rope_settings


class Gemma3TextConfig(PretrainedConfig):
    """Configuration of Gemma 3's text model; the defaults are the reference's (Gemma-3-4B's text part).

    Gemma 2's settings, with two rotary bases: `rope_theta` (and `rope_scaling`) for the full-attention layers,
    `rope_local_base_freq` for the sliding-window ones; by default every `sliding_window_pattern`-th layer attends
    fully, the others within `sliding_window` positions (`layer_types` lists each layer's kind). transformers 5's
    `rope_parameters` (one entry per layer kind) is read too.

    Example:
        >>> config = Gemma3TextConfig(vocab_size=1000, hidden_size=64, intermediate_size=172, num_hidden_layers=3,
        ...                           num_attention_heads=4, num_key_value_heads=2, head_dim=16,
        ...                           sliding_window_pattern=3)
        >>> config.layer_types
        ['sliding_attention', 'sliding_attention', 'full_attention']
    """

    model_type = "gemma3_text"
    keys_to_ignore_at_inference = ["past_key_values"]

    def __init__(
        self,
        vocab_size: int = 262208,
        hidden_size: int = 2304,
        intermediate_size: int = 9216,
        num_hidden_layers: int = 26,
        num_attention_heads: int = 8,
        num_key_value_heads: int = 4,
        head_dim: int = 256,
        hidden_activation: str = "gelu_pytorch_tanh",
        max_position_embeddings: int = 131072,
        initializer_range: float = 0.02,
        rms_norm_eps: float = 1e-6,
        use_cache: bool = True,
        pad_token_id: int | None = 0,
        eos_token_id: int | list[int] | None = 1,
        bos_token_id: int | None = 2,
        tie_word_embeddings: bool = True,
        rope_theta: float = 1_000_000.0,
        rope_scaling: dict | None = None,
        rope_local_base_freq: float = 10_000.0,
        attention_bias: bool = False,
        attention_dropout: float = 0.0,
        query_pre_attn_scalar: float = 256,
        sliding_window: int | None = 4096,
        sliding_window_pattern: int = 6,
        layer_types: list[str] | None = None,
        final_logit_softcapping: float | None = None,
        attn_logit_softcapping: float | None = None,
        use_bidirectional_attention: bool = False,
        **kwargs: Any,
    ) -> None:
        if use_bidirectional_attention:
            raise ConfigError("use_bidirectional_attention=True (an encoder made from Gemma 3) is not supported: "
                              "the Gemma 3 classes here are causal decoders.")
        parameters = kwargs.pop("rope_parameters", None)
        if parameters and "sliding_attention" in parameters:  # transformers 5: one entry per layer kind
            rope_local_base_freq = parameters["sliding_attention"].get("rope_theta", rope_local_base_freq)
            kwargs["rope_parameters"] = parameters.get("full_attention")
        elif parameters:
            kwargs["rope_parameters"] = parameters
        self.vocab_size = vocab_size
        self.max_position_embeddings = max_position_embeddings
        self.hidden_size = hidden_size
        self.intermediate_size = intermediate_size
        self.num_hidden_layers = num_hidden_layers
        self.num_attention_heads = num_attention_heads
        self.num_key_value_heads = num_key_value_heads
        self.head_dim = head_dim
        self.hidden_activation = hidden_activation
        self.initializer_range = initializer_range
        self.rms_norm_eps = rms_norm_eps
        self.use_cache = use_cache
        self.rope_theta, self.rope_scaling = rope_settings(rope_theta, rope_scaling, kwargs)
        self.rope_local_base_freq = rope_local_base_freq
        self.attention_bias = attention_bias
        self.attention_dropout = attention_dropout
        self.query_pre_attn_scalar = query_pre_attn_scalar
        self.sliding_window = sliding_window
        self.sliding_window_pattern = sliding_window_pattern
        kwargs.setdefault("_sliding_window_pattern", sliding_window_pattern)  # the reference writes both
        self.final_logit_softcapping = final_logit_softcapping
        self.attn_logit_softcapping = attn_logit_softcapping
        self.use_bidirectional_attention = use_bidirectional_attention
        if layer_types is None:
            layer_types = ["sliding_attention" if (i + 1) % sliding_window_pattern else "full_attention"
                           for i in range(num_hidden_layers)]
        self.layer_types = list(layer_types)
        super().__init__(pad_token_id=pad_token_id, bos_token_id=bos_token_id, eos_token_id=eos_token_id,
                         tie_word_embeddings=tie_word_embeddings, **kwargs)
