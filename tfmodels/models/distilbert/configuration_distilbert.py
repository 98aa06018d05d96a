"""`DistilBertConfig`."""

from __future__ import annotations

from typing import Any

from tfmodels.configuration import PretrainedConfig


class DistilBertConfig(PretrainedConfig):
    """Configuration of a DistilBERT model; the defaults are those of `distilbert-base-uncased`.

    `dim`, `n_heads` and `n_layers` are also readable and writable as `hidden_size`, `num_attention_heads` and
    `num_hidden_layers`.

    Example:
        >>> config = DistilBertConfig(dim=64, n_layers=2, n_heads=2, hidden_dim=128)
        >>> config.hidden_size
        64
    """

    model_type = "distilbert"
    attribute_map = {"hidden_size": "dim", "num_attention_heads": "n_heads", "num_hidden_layers": "n_layers"}

    def __init__(
        self,
        vocab_size: int = 30522,
        max_position_embeddings: int = 512,
        sinusoidal_pos_embds: bool = False,
        n_layers: int = 6,
        n_heads: int = 12,
        dim: int = 768,
        hidden_dim: int = 4 * 768,
        dropout: float = 0.1,
        attention_dropout: float = 0.1,
        activation: str = "gelu",
        initializer_range: float = 0.02,
        qa_dropout: float = 0.1,
        seq_classif_dropout: float = 0.2,
        pad_token_id: int = 0,
        **kwargs: Any,
    ) -> None:
        self.vocab_size = vocab_size
        self.max_position_embeddings = max_position_embeddings
        self.sinusoidal_pos_embds = sinusoidal_pos_embds
        self.n_layers = n_layers
        self.n_heads = n_heads
        self.dim = dim
        self.hidden_dim = hidden_dim
        self.dropout = dropout
        self.attention_dropout = attention_dropout
        self.activation = activation
        self.initializer_range = initializer_range
        self.qa_dropout = qa_dropout
        self.seq_classif_dropout = seq_classif_dropout
        # Last, so that aliased keyword arguments (`hidden_size`, ...) win over the defaults above.
        super().__init__(pad_token_id=pad_token_id, **kwargs)
