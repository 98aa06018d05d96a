"""`Gemma2Config`."""

from __future__ import annotations

from typing import Any

from tfmodels.configuration import PretrainedConfig
from tfmodels.models.llama.configuration_llama import rope_settings


class Gemma2Config(PretrainedConfig):
    """Configuration of a Gemma 2 model; the defaults are the reference's (Gemma-2-2B).

    Attention scores are scaled by `query_pre_attn_scalar ** -0.5` and capped to `attn_logit_softcapping`, the
    LM's logits to `final_logit_softcapping` (None: uncapped); `layer_types` gives each layer's kind (by default
    sliding-window and full attention alternate, the first layer sliding within `sliding_window` positions).

    Example:
        >>> config = Gemma2Config(vocab_size=1000, hidden_size=64, intermediate_size=172, num_hidden_layers=2,
        ...                       num_attention_heads=4, num_key_value_heads=2, head_dim=16, sliding_window=8)
        >>> config.layer_types
        ['sliding_attention', 'full_attention']
    """

    model_type = "gemma2"
    keys_to_ignore_at_inference = ["past_key_values"]

    def __init__(
        self,
        vocab_size: int = 256000,
        hidden_size: int = 2304,
        intermediate_size: int = 9216,
        num_hidden_layers: int = 26,
        num_attention_heads: int = 8,
        num_key_value_heads: int = 4,
        head_dim: int = 256,
        hidden_activation: str = "gelu_pytorch_tanh",
        max_position_embeddings: int = 8192,
        initializer_range: float = 0.02,
        rms_norm_eps: float = 1e-6,
        use_cache: bool = True,
        pad_token_id: int | None = 0,
        eos_token_id: int | list[int] | None = 1,
        bos_token_id: int | None = 2,
        tie_word_embeddings: bool = True,
        rope_theta: float = 10000.0,
        rope_scaling: dict | None = None,
        attention_bias: bool = False,
        attention_dropout: float = 0.0,
        query_pre_attn_scalar: float = 256,
        sliding_window: int | None = 4096,
        layer_types: list[str] | None = None,
        final_logit_softcapping: float | None = 30.0,
        attn_logit_softcapping: float | None = 50.0,
        **kwargs: Any,
    ) -> None:
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
        self.rope_theta, rope_scaling = rope_settings(rope_theta, rope_scaling, kwargs)
        if rope_scaling is not None:  # the reference's Gemma 2 configs have no such field otherwise
            self.rope_scaling = rope_scaling
        self.attention_bias = attention_bias
        self.attention_dropout = attention_dropout
        self.query_pre_attn_scalar = query_pre_attn_scalar
        self.sliding_window = sliding_window
        self.final_logit_softcapping = final_logit_softcapping
        self.attn_logit_softcapping = attn_logit_softcapping
        if layer_types is None:
            layer_types = ["sliding_attention" if (i + 1) % 2 else "full_attention" for i in range(num_hidden_layers)]
        self.layer_types = list(layer_types)
        super().__init__(pad_token_id=pad_token_id, bos_token_id=bos_token_id, eos_token_id=eos_token_id,
                         tie_word_embeddings=tie_word_embeddings, **kwargs)
