"""Qwen2: Llama's classes with biases on the query, key and value projections."""

from tfmodels.models.llama import llama_family

ARCHITECTURE = llama_family("qwen2", "Qwen2", __name__)
__getattr__ = ARCHITECTURE.module_getattr
