"""Gemma: the decoder of Llama's shape with Gemma's scaled embeddings, (1 + weight) RMSNorms and GeGLU
feed-forward (and the Gemma 2 and Gemma 3 families built on its classes)."""

from tfmodels.models.registry import decoder_architecture

ARCHITECTURE = decoder_architecture("gemma", "Gemma", __name__)
__getattr__ = ARCHITECTURE.module_getattr
