"""DeBERTa-v2 (and DeBERTa-v3 checkpoints): an encoder with disentangled attention over relative positions."""

from tfmodels.models.registry import Architecture

ARCHITECTURE = Architecture(
    model_type="deberta-v2",
    config="DebertaV2Config",
    package=__name__,
    classes={
        "TFDebertaV2Model": ("TFAutoModel",),
        "TFDebertaV2ForMaskedLM": ("TFAutoModelForMaskedLM",),
        "TFDebertaV2ForSequenceClassification": ("TFAutoModelForSequenceClassification",),
        "TFDebertaV2ForTokenClassification": ("TFAutoModelForTokenClassification",),
        "TFDebertaV2ForQuestionAnswering": ("TFAutoModelForQuestionAnswering",),
        "TFDebertaV2ForMultipleChoice": ("TFAutoModelForMultipleChoice",),
    },
)
__getattr__ = ARCHITECTURE.module_getattr
