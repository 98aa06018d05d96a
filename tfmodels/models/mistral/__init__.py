"""Mistral: Llama's classes with a sliding attention window."""

from tfmodels.models.llama import llama_family

ARCHITECTURE = llama_family("mistral", "Mistral", __name__)
__getattr__ = ARCHITECTURE.module_getattr
