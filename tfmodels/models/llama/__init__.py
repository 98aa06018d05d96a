"""Llama (and the family generated from its classes: Mistral, Qwen2)."""

from tfmodels.models.registry import Architecture

# Class-name suffix -> the auto classes it serves.
LLAMA_AUTO_CLASSES = {
    "Model": ("TFAutoModel",),
    "ForCausalLM": ("TFAutoModelForCausalLM",),
    "ForSequenceClassification": ("TFAutoModelForSequenceClassification",),
}


def llama_family(model_type: str, prefix: str, package: str) -> Architecture:
    """The declaration of an architecture with Llama's classes under the name prefix `TF<prefix>`.

    Example:
        >>> ARCHITECTURE = llama_family("mistral", "Mistral", __name__)
    """
    return Architecture(model_type=model_type, config=f"{prefix}Config", package=package,
                        classes={f"TF{prefix}{suffix}": autos for suffix, autos in LLAMA_AUTO_CLASSES.items()})


ARCHITECTURE = llama_family("llama", "Llama", __name__)
__getattr__ = ARCHITECTURE.module_getattr
