"""`RobertaConfig`."""

from __future__ import annotations

from typing import Any

from tfmodels.models.bert.configuration_bert import BertConfig


class RobertaConfig(BertConfig):
    """Configuration of a RoBERTa model: BERT's fields, with the defaults of `roberta-base` (its vocabulary, and
    padding at id 1, which also offsets the positions).

    Example:
        >>> config = RobertaConfig(hidden_size=128, num_hidden_layers=2, num_attention_heads=2, intermediate_size=256)
        >>> config.pad_token_id, config.vocab_size
        (1, 50265)
    """

    model_type = "roberta"

    def __init__(self, vocab_size: int = 50265, pad_token_id: int = 1, bos_token_id: int = 0, eos_token_id: int = 2,
                 **kwargs: Any) -> None:
        super().__init__(vocab_size=vocab_size, pad_token_id=pad_token_id, bos_token_id=bos_token_id,
                         eos_token_id=eos_token_id, **kwargs)
