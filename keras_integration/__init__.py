"""Training with Keras: internal-loss compile/train_step/test_step, dataset preparation, callbacks.

Works on any `keras.Model` whose `call` takes label arguments and returns a dict with a `loss` when given labels;
never imports `tfmodels`.

Example:
    >>> from keras_integration import KerasMetricCallback, prepare_tf_dataset
"""

from keras_integration.callbacks import (
    KerasMetricCallback,
    TrainingCheckpoint,
    load_training_checkpoint,
    save_training_checkpoint,
)
from keras_integration.data import TFDataCollatorWithPadding, prepare_tf_dataset
from keras_integration.training import InternalLossTrainer, label_names, label_to_output_map

__all__ = [
    "InternalLossTrainer",
    "KerasMetricCallback",
    "TFDataCollatorWithPadding",
    "TrainingCheckpoint",
    "label_names",
    "label_to_output_map",
    "load_training_checkpoint",
    "prepare_tf_dataset",
    "save_training_checkpoint",
]
