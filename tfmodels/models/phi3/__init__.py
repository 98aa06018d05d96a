"""Phi-3: Llama's decoder with fused query/key/value and gate/up projections and LongRoPE scaling."""

from tfmodels.models.registry import decoder_architecture

ARCHITECTURE = decoder_architecture("phi3", "Phi3", __name__)
__getattr__ = ARCHITECTURE.module_getattr
