"""Qwen2: Llama's classes with biases on the query, key and value projections."""

from tfmodels.models.registry import decoder_architecture

ARCHITECTURE = decoder_architecture("qwen2", "Qwen2", __name__)
__getattr__ = ARCHITECTURE.module_getattr
