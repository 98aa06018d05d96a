"""XLM-RoBERTa."""

from tfmodels.models.registry import Architecture

ARCHITECTURE = Architecture(
    model_type="xlm-roberta",
    config="XLMRobertaConfig",
    package=__name__,
    classes={
        "TFXLMRobertaModel": ("TFAutoModel",),
        "TFXLMRobertaForMaskedLM": ("TFAutoModelForPreTraining", "TFAutoModelForMaskedLM"),
        "TFXLMRobertaForCausalLM": ("TFAutoModelForCausalLM",),
        "TFXLMRobertaForSequenceClassification": ("TFAutoModelForSequenceClassification",),
        "TFXLMRobertaForTokenClassification": ("TFAutoModelForTokenClassification",),
        "TFXLMRobertaForQuestionAnswering": ("TFAutoModelForQuestionAnswering",),
        "TFXLMRobertaForMultipleChoice": ("TFAutoModelForMultipleChoice",),
    },
)
__getattr__ = ARCHITECTURE.module_getattr
