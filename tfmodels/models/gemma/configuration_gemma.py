"""`GemmaConfig`."""

from __future__ import annotations

from typing import Any

from tfmodels.configuration import PretrainedConfig
from tfmodels.models.llama.configuration_llama import rope_settings


class GemmaConfig(PretrainedConfig):
    """Configuration of a Gemma model; the defaults are the reference's (Gemma-7B).

    `head_dim` is set apart from `hidden_size / num_attention_heads`; the feed-forward's activation is `hidden_act`
    (as transformers 5 reads it; `hidden_activation` is kept for the files that carry it); the LM head is the token
    embeddings' transpose unless `tie_word_embeddings=False`.

    Example:
        >>> config = GemmaConfig(vocab_size=1000, hidden_size=64, intermediate_size=172, num_hidden_layers=2,
        ...                      num_attention_heads=4, num_key_value_heads=1, head_dim=32)
    """

    model_type = "gemma"
    keys_to_ignore_at_inference = ["past_key_values"]

    def __init__(
        self,
        vocab_size: int = 256000,
        hidden_size: int = 3072,
        intermediate_size: int = 24576,
        num_hidden_layers: int = 28,
        num_attention_heads: int = 16,
        num_key_value_heads: int = 16,
        head_dim: int = 256,
        hidden_act: str = "gelu_pytorch_tanh",
        hidden_activation: str | None = None,
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
        self.hidden_act = hidden_act
        self.hidden_activation = hidden_activation
        self.initializer_range = initializer_range
        self.rms_norm_eps = rms_norm_eps
        self.use_cache = use_cache
        self.rope_theta, rope_scaling = rope_settings(rope_theta, rope_scaling, kwargs)
        if rope_scaling is not None:  # the reference's Gemma configs have no such field otherwise
            self.rope_scaling = rope_scaling
        self.attention_bias = attention_bias
        self.attention_dropout = attention_dropout
        super().__init__(pad_token_id=pad_token_id, bos_token_id=bos_token_id, eos_token_id=eos_token_id,
                         tie_word_embeddings=tie_word_embeddings, **kwargs)
