"""tfmodels: Hugging Face-compatible transformer models on Keras 3 (TensorFlow backend).

Names are imported lazily, so `import tfmodels` is cheap and imports neither torch nor tf-keras (nor TensorFlow);
once Keras is imported, `keras.models.load_model` finds every model class (see `tfmodels.keras_registry`).

Example:
    >>> from tfmodels import TFBertForSequenceClassification
    >>> model = TFBertForSequenceClassification.from_pretrained("path/to/checkpoint", num_labels=2)
"""

from __future__ import annotations

import importlib

from tfmodels import keras_registry as _keras_registry
from tfmodels.models.registry import architectures as _architectures

__version__ = "0.1.0"

_EXPORTS = {
    "tfmodels.configuration": ["PretrainedConfig"],
    "tfmodels.errors": ["CheckpointError", "ConfigError", "UnsafeCheckpointError"],
    "tfmodels.modeling": ["TFPreTrainedModel"],
    "tfmodels.modeling_outputs": ["ModelOutput"],
    "tfmodels.generation": ["GenerationConfig", "GenerationMixin", "TextStreamer"],
    "tfmodels.auto": [
        "AutoConfig", "load_pretrained", "TFAutoModel", "TFAutoModelForPreTraining", "TFAutoModelForMaskedLM",
        "TFAutoModelForCausalLM",
        "TFAutoModelForSequenceClassification", "TFAutoModelForTokenClassification",
        "TFAutoModelForQuestionAnswering", "TFAutoModelForMultipleChoice", "TFAutoModelForNextSentencePrediction",
        "TFAutoModelForSeq2SeqLM", "TFAutoModelForImageClassification", "TFAutoModelForSpeechSeq2Seq",
    ],
}
for _architecture in _architectures().values():  # each architecture folder declares its own names
    _EXPORTS.setdefault(_architecture.package, []).extend(_architecture.names)
_NAME_TO_MODULE = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_NAME_TO_MODULE)
# Every model class, by name: Keras can load a `.keras` file of any of them after `import tfmodels` alone.
MODEL_CLASSES = {name: module for name, module in _NAME_TO_MODULE.items()
                 if module.startswith("tfmodels.models.") and name.startswith("TF")}

_keras_registry.register_when_keras_is_imported(MODEL_CLASSES)


def __getattr__(name: str):
    if name in _NAME_TO_MODULE:
        return getattr(importlib.import_module(_NAME_TO_MODULE[name]), name)
    raise AttributeError(f"module 'tfmodels' has no attribute '{name}'")


def __dir__() -> list[str]:
    return __all__
