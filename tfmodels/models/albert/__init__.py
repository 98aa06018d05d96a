"""ALBERT."""

from tfmodels.models.registry import Architecture

ARCHITECTURE = Architecture(
    model_type="albert",
    config="AlbertConfig",
    package=__name__,
    classes={
        "TFAlbertModel": ("TFAutoModel",),
        "TFAlbertForPreTraining": ("TFAutoModelForPreTraining",),
        "TFAlbertForMaskedLM": ("TFAutoModelForMaskedLM",),
        "TFAlbertForSequenceClassification": ("TFAutoModelForSequenceClassification",),
        "TFAlbertForTokenClassification": ("TFAutoModelForTokenClassification",),
        "TFAlbertForQuestionAnswering": ("TFAutoModelForQuestionAnswering",),
        "TFAlbertForMultipleChoice": ("TFAutoModelForMultipleChoice",),
    },
)
__getattr__ = ARCHITECTURE.module_getattr
