"""DistilBERT."""

from tfmodels.models.registry import Architecture

ARCHITECTURE = Architecture(
    model_type="distilbert",
    config="DistilBertConfig",
    package=__name__,
    classes={
        "TFDistilBertModel": ("TFAutoModel",),
        "TFDistilBertForMaskedLM": ("TFAutoModelForPreTraining", "TFAutoModelForMaskedLM"),
        "TFDistilBertForSequenceClassification": ("TFAutoModelForSequenceClassification",),
        "TFDistilBertForMultipleChoice": ("TFAutoModelForMultipleChoice",),
        "TFDistilBertForTokenClassification": ("TFAutoModelForTokenClassification",),
        "TFDistilBertForQuestionAnswering": ("TFAutoModelForQuestionAnswering",),
    },
)
__getattr__ = ARCHITECTURE.module_getattr
