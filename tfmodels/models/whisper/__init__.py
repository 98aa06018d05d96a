"""Whisper: speech recognition, an audio encoder (a convolutional front-end on log-mel features) and a text decoder."""

from tfmodels.models.registry import Architecture

ARCHITECTURE = Architecture(
    model_type="whisper",
    config="WhisperConfig",
    package=__name__,
    classes={
        "TFWhisperModel": ("TFAutoModel",),
        "TFWhisperForConditionalGeneration": ("TFAutoModelForSpeechSeq2Seq",),
    },
)
__getattr__ = ARCHITECTURE.module_getattr
