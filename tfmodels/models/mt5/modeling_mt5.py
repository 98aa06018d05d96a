"""mT5: T5 (a multilingual vocabulary, v1.1 defaults) under its own names; the weights keep T5's."""

from __future__ import annotations

from tfmodels.models.mt5.configuration_mt5 import MT5Config
from tfmodels.models.registry import alias_classes
from tfmodels.models.t5.modeling_t5 import T5_CLASSES, TFT5PreTrainedModel


class TFMT5PreTrainedModel(TFT5PreTrainedModel):
    """T5's architecture with `MT5Config`."""

    config_class = MT5Config


# TFMT5Model, TFMT5ForConditionalGeneration, TFMT5EncoderModel
globals().update(alias_classes(T5_CLASSES, TFMT5PreTrainedModel, __name__, {"T5": "MT5"}))
