"""RoBERTa."""

from tfmodels.models.registry import Architecture

ARCHITECTURE = Architecture(
    model_type="roberta",
    config="RobertaConfig",
    package=__name__,
    classes={
        "TFRobertaModel": ("TFAutoModel",),
        "TFRobertaForMaskedLM": ("TFAutoModelForPreTraining", "TFAutoModelForMaskedLM"),
        "TFRobertaForCausalLM": ("TFAutoModelForCausalLM",),
        "TFRobertaForSequenceClassification": ("TFAutoModelForSequenceClassification",),
        "TFRobertaForTokenClassification": ("TFAutoModelForTokenClassification",),
        "TFRobertaForQuestionAnswering": ("TFAutoModelForQuestionAnswering",),
        "TFRobertaForMultipleChoice": ("TFAutoModelForMultipleChoice",),
    },
)
__getattr__ = ARCHITECTURE.module_getattr
