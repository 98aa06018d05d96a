"""GPT-2."""

from tfmodels.models.gpt2.configuration_gpt2 import GPT2Config
from tfmodels.models.gpt2.modeling_gpt2 import (
    TFGPT2ForSequenceClassification,
    TFGPT2LMHeadModel,
    TFGPT2Model,
    TFGPT2PreTrainedModel,
)

__all__ = ["GPT2Config", "TFGPT2ForSequenceClassification", "TFGPT2LMHeadModel", "TFGPT2Model", "TFGPT2PreTrainedModel"]
