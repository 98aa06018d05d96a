"""Mistral: Llama's classes with a sliding attention window."""

from tfmodels.models.registry import decoder_architecture

ARCHITECTURE = decoder_architecture("mistral", "Mistral", __name__)
__getattr__ = ARCHITECTURE.module_getattr
