"""`XLMRobertaConfig`."""

from __future__ import annotations

from typing import Any

from tfmodels.models.roberta.configuration_roberta import RobertaConfig


class XLMRobertaConfig(RobertaConfig):
    """Configuration of an XLM-RoBERTa model: RoBERTa's, under model type `xlm-roberta`, with a default vocabulary of
    30522 as in the reference.

    Example:
        >>> config = XLMRobertaConfig(vocab_size=250002, hidden_size=128, num_hidden_layers=2, num_attention_heads=2)
    """

    model_type = "xlm-roberta"

    def __init__(self, vocab_size: int = 30522, **kwargs: Any) -> None:
        super().__init__(vocab_size=vocab_size, **kwargs)
