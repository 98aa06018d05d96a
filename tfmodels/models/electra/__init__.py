"""ELECTRA."""

from tfmodels.models.registry import Architecture

ARCHITECTURE = Architecture(
    model_type="electra",
    config="ElectraConfig",
    package=__name__,
    classes={
        "TFElectraModel": ("TFAutoModel",),
        "TFElectraForPreTraining": ("TFAutoModelForPreTraining",),
        "TFElectraForMaskedLM": ("TFAutoModelForMaskedLM",),
        "TFElectraForSequenceClassification": ("TFAutoModelForSequenceClassification",),
        "TFElectraForMultipleChoice": ("TFAutoModelForMultipleChoice",),
        "TFElectraForTokenClassification": ("TFAutoModelForTokenClassification",),
        "TFElectraForQuestionAnswering": ("TFAutoModelForQuestionAnswering",),
    },
)
__getattr__ = ARCHITECTURE.module_getattr
