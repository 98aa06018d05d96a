"""Mixtral: Mistral's decoder with a sparse mixture of experts as each layer's feed-forward."""

from tfmodels.models.registry import decoder_architecture

ARCHITECTURE = decoder_architecture("mixtral", "Mixtral", __name__)
__getattr__ = ARCHITECTURE.module_getattr
