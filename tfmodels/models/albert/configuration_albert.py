"""`AlbertConfig`."""

from __future__ import annotations

from typing import Any

from tfmodels.configuration import PretrainedConfig
from tfmodels.errors import ConfigError


class AlbertConfig(PretrainedConfig):
    """Configuration of an ALBERT model; the defaults are those of `albert-xxlarge`.

    `embedding_size` is the width of the embeddings (projected to `hidden_size`); the `num_hidden_layers` layer
    applications share the parameters of `num_hidden_groups` groups of `inner_group_num` layers each.

    Example:
        >>> config = AlbertConfig(embedding_size=16, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
        ...                       intermediate_size=37)
    """

    model_type = "albert"

    def __init__(
        self,
        vocab_size: int = 30000,
        embedding_size: int = 128,
        hidden_size: int = 4096,
        num_hidden_layers: int = 12,
        num_hidden_groups: int = 1,
        num_attention_heads: int = 64,
        intermediate_size: int = 16384,
        inner_group_num: int = 1,
        hidden_act: str = "gelu_new",
        hidden_dropout_prob: float = 0.0,
        attention_probs_dropout_prob: float = 0.0,
        max_position_embeddings: int = 512,
        type_vocab_size: int = 2,
        initializer_range: float = 0.02,
        layer_norm_eps: float = 1e-12,
        classifier_dropout_prob: float = 0.1,
        position_embedding_type: str = "absolute",
        pad_token_id: int = 0,
        bos_token_id: int = 2,
        eos_token_id: int = 3,
        **kwargs: Any,
    ) -> None:
        for name, value in (("num_hidden_groups", num_hidden_groups), ("inner_group_num", inner_group_num)):
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"{name} must be a positive integer; received {value!r}.")
        self.vocab_size = vocab_size
        self.embedding_size = embedding_size
        self.hidden_size = hidden_size
        self.num_hidden_layers = num_hidden_layers
        self.num_hidden_groups = num_hidden_groups
        self.num_attention_heads = num_attention_heads
        self.intermediate_size = intermediate_size
        self.inner_group_num = inner_group_num
        self.hidden_act = hidden_act
        self.hidden_dropout_prob = hidden_dropout_prob
        self.attention_probs_dropout_prob = attention_probs_dropout_prob
        self.max_position_embeddings = max_position_embeddings
        self.type_vocab_size = type_vocab_size
        self.initializer_range = initializer_range
        self.layer_norm_eps = layer_norm_eps
        self.classifier_dropout_prob = classifier_dropout_prob
        self.position_embedding_type = position_embedding_type
        super().__init__(pad_token_id=pad_token_id, bos_token_id=bos_token_id, eos_token_id=eos_token_id, **kwargs)
