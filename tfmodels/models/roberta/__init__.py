"""RoBERTa (and the classes of the architectures that are RoBERTa under other names: XLM-RoBERTa, CamemBERT)."""

from tfmodels.models.registry import Architecture

# Class-name suffix -> the auto classes it serves, as the reference's TF auto mappings.
ROBERTA_AUTO_CLASSES = {
    "Model": ("TFAutoModel",),
    "ForMaskedLM": ("TFAutoModelForPreTraining", "TFAutoModelForMaskedLM"),
    "ForCausalLM": ("TFAutoModelForCausalLM",),
    "ForSequenceClassification": ("TFAutoModelForSequenceClassification",),
    "ForTokenClassification": ("TFAutoModelForTokenClassification",),
    "ForQuestionAnswering": ("TFAutoModelForQuestionAnswering",),
    "ForMultipleChoice": ("TFAutoModelForMultipleChoice",),
}


def roberta_family(model_type: str, prefix: str, package: str) -> Architecture:
    """The declaration of an architecture with RoBERTa's classes under the name prefix `TF<prefix>`.

    Example:
        >>> ARCHITECTURE = roberta_family("xlm-roberta", "XLMRoberta", __name__)
    """
    return Architecture(model_type=model_type, config=f"{prefix}Config", package=package,
                        classes={f"TF{prefix}{suffix}": autos for suffix, autos in ROBERTA_AUTO_CLASSES.items()})


ARCHITECTURE = roberta_family("roberta", "Roberta", __name__)
__getattr__ = ARCHITECTURE.module_getattr
