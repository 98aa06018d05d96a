"""mT5: T5 (a multilingual vocabulary, v1.1 defaults) under its own names; the weights keep T5's.

Main diff with T5: the config class.
"""

from __future__ import annotations

from tfmodels.models.mt5.configuration_mt5 import MT5Config
from tfmodels.models.t5.modeling_t5 import (
    TFT5EncoderModel,
    TFT5ForConditionalGeneration,
    TFT5Model,
    TFT5PreTrainedModel,
)


class TFMT5PreTrainedModel(TFT5PreTrainedModel):
    """T5's architecture with `MT5Config`."""

    config_class = MT5Config


class TFMT5Model(TFMT5PreTrainedModel, TFT5Model):
    """The bare mT5 encoder-decoder: the decoder's `last_hidden_state` (and, with `use_cache`, `past_key_values`),
    then the encoder's outputs (`encoder_last_hidden_state`, ...).

    Example:
        >>> model = TFMT5Model.from_pretrained("mt5-dir")
        >>> model({"input_ids": ids, "decoder_input_ids": decoder_ids}).last_hidden_state
    """


class TFMT5ForConditionalGeneration(TFMT5PreTrainedModel, TFT5ForConditionalGeneration):
    """mT5 with its language-modelling head (its own `lm_head`, untied, by default). With `labels`, the cross
    entropy over the labels that are not -100, and decoder inputs default to the labels shifted right.

    Example:
        >>> model = TFMT5ForConditionalGeneration.from_pretrained("mt5-dir")
        >>> model.generate(ids, attention_mask=mask, max_new_tokens=20, num_beams=4)
    """


class TFMT5EncoderModel(TFMT5PreTrainedModel, TFT5EncoderModel):
    """mT5's encoder alone (the decoder's weights in a checkpoint are ignored): `last_hidden_state` and, when
    asked, `hidden_states` and `attentions`.

    Example:
        >>> model = TFMT5EncoderModel.from_pretrained("mt5-dir")
        >>> model({"input_ids": ids, "attention_mask": mask}).last_hidden_state  # [batch, seq, d_model]
    """
