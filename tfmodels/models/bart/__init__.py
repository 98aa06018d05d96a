"""BART."""

from tfmodels.models.registry import Architecture

ARCHITECTURE = Architecture(
    model_type="bart",
    config="BartConfig",
    package=__name__,
    classes={
        "TFBartModel": ("TFAutoModel",),
        "TFBartForConditionalGeneration": ("TFAutoModelForSeq2SeqLM",),
        "TFBartForSequenceClassification": ("TFAutoModelForSequenceClassification",),
    },
)
__getattr__ = ARCHITECTURE.module_getattr
