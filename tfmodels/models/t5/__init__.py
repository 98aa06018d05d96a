"""T5 (and the classes of mT5, which is T5 under other names)."""

from tfmodels.models.registry import Architecture

# Class-name suffix -> the auto classes it serves, as the reference's TF auto mappings.
T5_AUTO_CLASSES = {
    "Model": ("TFAutoModel",),
    "ForConditionalGeneration": ("TFAutoModelForSeq2SeqLM",),
    "EncoderModel": (),
}


def t5_family(model_type: str, prefix: str, package: str) -> Architecture:
    """The declaration of an architecture with T5's classes under the name prefix `TF<prefix>`.

    Example:
        >>> ARCHITECTURE = t5_family("mt5", "MT5", __name__)
    """
    return Architecture(model_type=model_type, config=f"{prefix}Config", package=package,
                        classes={f"TF{prefix}{suffix}": autos for suffix, autos in T5_AUTO_CLASSES.items()})


ARCHITECTURE = t5_family("t5", "T5", __name__)
__getattr__ = ARCHITECTURE.module_getattr
