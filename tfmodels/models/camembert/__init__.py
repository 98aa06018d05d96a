"""CamemBERT."""

from tfmodels.models.registry import Architecture

ARCHITECTURE = Architecture(
    model_type="camembert",
    config="CamembertConfig",
    package=__name__,
    classes={
        "TFCamembertModel": ("TFAutoModel",),
        "TFCamembertForMaskedLM": ("TFAutoModelForPreTraining", "TFAutoModelForMaskedLM"),
        "TFCamembertForCausalLM": ("TFAutoModelForCausalLM",),
        "TFCamembertForSequenceClassification": ("TFAutoModelForSequenceClassification",),
        "TFCamembertForTokenClassification": ("TFAutoModelForTokenClassification",),
        "TFCamembertForQuestionAnswering": ("TFAutoModelForQuestionAnswering",),
        "TFCamembertForMultipleChoice": ("TFAutoModelForMultipleChoice",),
    },
)
__getattr__ = ARCHITECTURE.module_getattr
