"""Gemma 2: Gemma's classes with norms around each block, soft-capped logits and alternating sliding-window layers."""

from tfmodels.models.registry import decoder_architecture

ARCHITECTURE = decoder_architecture("gemma2", "Gemma2", __name__)
__getattr__ = ARCHITECTURE.module_getattr
