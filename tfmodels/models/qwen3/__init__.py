"""Qwen3: Llama's decoder with per-head query/key norms and no attention biases."""

from tfmodels.models.registry import decoder_architecture

ARCHITECTURE = decoder_architecture("qwen3", "Qwen3", __name__)
__getattr__ = ARCHITECTURE.module_getattr
