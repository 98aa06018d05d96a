"""Training with Keras: internal-loss compile/train_step/test_step, dataset preparation, callbacks.

Works on any `keras.Model` that follows the protocol in `keras_integration.training`; never imports `tfmodels`.
Names are imported lazily, so importing the package is cheap.

Example:
    >>> from keras_integration import KerasMetricCallback, prepare_tf_dataset
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "keras_integration.callbacks": ["KerasMetricCallback", "PushToHubCallback", "TrainingCheckpoint",
                                    "load_training_checkpoint", "save_training_checkpoint"],
    "keras_integration.model_card": ["create_model_card"],
    "keras_integration.data": ["TFDataCollatorForLanguageModeling", "TFDataCollatorForSeq2Seq",
                               "TFDataCollatorWithPadding", "prepare_tf_dataset"],
    "keras_integration.training": ["InternalLossTrainer", "label_names", "label_to_output_map"],
}
_NAME_TO_MODULE = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_NAME_TO_MODULE)


def __getattr__(name: str):
    if name in _NAME_TO_MODULE:
        return getattr(importlib.import_module(_NAME_TO_MODULE[name]), name)
    raise AttributeError(f"module 'keras_integration' has no attribute '{name}'")


def __dir__() -> list[str]:
    return __all__
