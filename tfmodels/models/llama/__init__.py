"""Llama (and the families subclassing its classes: Mistral, Qwen2)."""

from tfmodels.models.registry import decoder_architecture

ARCHITECTURE = decoder_architecture("llama", "Llama", __name__)
__getattr__ = ARCHITECTURE.module_getattr
