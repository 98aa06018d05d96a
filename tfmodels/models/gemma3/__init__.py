"""Gemma 3 (text): Gemma 2's layers with per-head query/key norms and a rotary base of their own for the
sliding-window layers."""

from tfmodels.models.registry import decoder_architecture

ARCHITECTURE = decoder_architecture("gemma3_text", "Gemma3Text", __name__, ForCausalLM="Gemma3")
__getattr__ = ARCHITECTURE.module_getattr
