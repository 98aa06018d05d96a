"""CamemBERT."""

from tfmodels.models.roberta import roberta_family

ARCHITECTURE = roberta_family("camembert", "Camembert", __name__)
__getattr__ = ARCHITECTURE.module_getattr
