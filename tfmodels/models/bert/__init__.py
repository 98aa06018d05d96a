"""BERT."""

from tfmodels.models.registry import Architecture

ARCHITECTURE = Architecture(
    model_type="bert",
    config="BertConfig",
    package=__name__,
    classes={
        "TFBertModel": ("TFAutoModel",),
        "TFBertForPreTraining": ("TFAutoModelForPreTraining",),
        "TFBertForMaskedLM": ("TFAutoModelForMaskedLM",),
        "TFBertLMHeadModel": ("TFAutoModelForCausalLM",),
        "TFBertForNextSentencePrediction": ("TFAutoModelForNextSentencePrediction",),
        "TFBertForSequenceClassification": ("TFAutoModelForSequenceClassification",),
        "TFBertForMultipleChoice": ("TFAutoModelForMultipleChoice",),
        "TFBertForTokenClassification": ("TFAutoModelForTokenClassification",),
        "TFBertForQuestionAnswering": ("TFAutoModelForQuestionAnswering",),
    },
)
__getattr__ = ARCHITECTURE.module_getattr
