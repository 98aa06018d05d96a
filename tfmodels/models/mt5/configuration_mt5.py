"""`MT5Config`."""

from __future__ import annotations

from typing import Any

from tfmodels.models.t5.configuration_t5 import T5Config


class MT5Config(T5Config):
    """Configuration of an mT5 model: T5's fields under model type `mt5`, with the defaults of `google/mt5-small`
    (a 250112-token vocabulary, gated-gelu feed-forward, untied LM head).

    Example:
        >>> config = MT5Config(d_model=64, d_kv=16, d_ff=128, num_layers=2, num_heads=4)
        >>> config.is_gated_act, config.tie_word_embeddings
        (True, False)
    """

    model_type = "mt5"

    def __init__(self, vocab_size: int = 250112, d_model: int = 512, d_kv: int = 64, d_ff: int = 1024,
                 num_layers: int = 8, num_heads: int = 6, feed_forward_proj: str = "gated-gelu",
                 tie_word_embeddings: bool = False, **kwargs: Any) -> None:
        super().__init__(vocab_size=vocab_size, d_model=d_model, d_kv=d_kv, d_ff=d_ff, num_layers=num_layers,
                         num_heads=num_heads, feed_forward_proj=feed_forward_proj,
                         tie_word_embeddings=tie_word_embeddings, **kwargs)
