"""XLM-RoBERTa."""

from tfmodels.models.roberta import roberta_family

ARCHITECTURE = roberta_family("xlm-roberta", "XLMRoberta", __name__)
__getattr__ = ARCHITECTURE.module_getattr
