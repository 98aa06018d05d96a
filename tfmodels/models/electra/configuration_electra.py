"""`ElectraConfig`."""

from __future__ import annotations

from typing import Any

from tfmodels.models.bert.configuration_bert import BertConfig


class ElectraConfig(BertConfig):
    """Configuration of an ELECTRA model; the defaults are those of `google/electra-small-discriminator`. BERT's
    fields, plus:

    `embedding_size` may differ from `hidden_size`: the embeddings are then projected (`embeddings_project`).
    The `summary_*` fields configure the multiple-choice head.

    Example:
        >>> config = ElectraConfig(embedding_size=16, hidden_size=32, num_hidden_layers=2, num_attention_heads=4)
    """

    model_type = "electra"

    def __init__(
        self,
        embedding_size: int = 128,
        hidden_size: int = 256,
        num_attention_heads: int = 4,
        intermediate_size: int = 1024,
        summary_type: str = "first",
        summary_use_proj: bool = True,
        summary_activation: str | None = "gelu",
        summary_last_dropout: float = 0.1,
        **kwargs: Any,
    ) -> None:
        self.embedding_size = embedding_size
        self.summary_type = summary_type
        self.summary_use_proj = summary_use_proj
        self.summary_activation = summary_activation
        self.summary_last_dropout = summary_last_dropout
        super().__init__(hidden_size=hidden_size, num_attention_heads=num_attention_heads,
                         intermediate_size=intermediate_size, **kwargs)
