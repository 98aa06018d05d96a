"""Every private Keras API the training package uses, in one place: what, where, why, and the public alternative
considered (the model kit's are in `tfmodels/keras_private.py`).

Imports of `keras.src` go through this module or the model kit's; private attributes read elsewhere are listed in
`PRIVATE_APIS` (and TensorFlow's in `PRIVATE_TF_APIS`), which a test checks against the code
(tests/test_dependencies.py). Importing this module with a Keras older than `MIN_KERAS` raises an ImportError that
says what to upgrade.

Minimum versions, found by reading the released Keras wheels (3.0.0, 3.3.3, 3.5.0, 3.6.0, 3.7.0, 3.8.0 and the
installed one): `keras.src.losses.loss.scale_loss_for_distribution` first ships in Keras 3.8.0 (absent from 3.7.0);
`Trainer._maybe_symbolic_build` in 3.5.0; `keras.name_scope(override_parent=...)` and `Dense._kernel` in 3.3;
`Layer._tracker`, the `CompileMetrics` attributes and `keras.saving.get_custom_objects` in 3.0. TensorFlow 2.16 is
the first release that runs Keras 3 (`tf.keras` is Keras 3 from 2.16 on).

Example:
    >>> from keras_integration.keras_private import scale_loss_for_distribution
"""

from __future__ import annotations

import keras
from packaging.version import Version  # a dependency of Keras

MIN_KERAS = "3.8.0"
MIN_TENSORFLOW = "2.16"


def check_version(name: str, installed: str, minimum: str) -> None:
    """Raise an ImportError when `installed` is below `minimum`.

    Example:
        >>> check_version("keras", keras.__version__, MIN_KERAS)
    """
    if Version(installed) < Version(minimum):
        raise ImportError(f"tfmodels needs {name}>={minimum}, but {name} {installed} is installed. Upgrade it: "
                          f"pip install -U '{name}>={minimum}'.")


check_version("keras", keras.__version__, MIN_KERAS)

from keras.src.losses.loss import scale_loss_for_distribution  # noqa: E402  (Keras >= 3.8.0)


def set_initial_epoch(model: keras.Model, epoch: int) -> None:
    """Make the `fit` that is starting begin at `epoch`, as Keras' `BackupAndRestore` does from `on_train_begin`.

    Example:
        >>> set_initial_epoch(model, 3)  # in a callback's on_train_begin
    """
    model._initial_epoch = epoch


# name -> (where it is used, why, the public alternative considered)
PRIVATE_APIS: dict[str, tuple[str, str, str]] = {
    "scale_loss_for_distribution": (
        "keras_integration/training.py",
        "a loss returned by `compute_loss` must be divided by the number of replicas, as Keras' own losses are (the "
        "loss tracker scales it back).",
        "`tf.distribute.get_strategy().num_replicas_in_sync`, which would copy Keras' rule and drift from it.",
    ),
    "_compile_metrics": (
        "keras_integration/training.py",
        "the `CompileMetrics` of `compile(metrics=...)`: labels of -100 must reach every metric as a sample weight, "
        "and a flat metric list must become one fresh instance per scored output (QA start and end).",
        "a Keras mask on `y_pred`, which only Keras' mean-style metrics read; overriding `compute_metrics` alone, "
        "which cannot reach the compiled metric objects.",
    ),
    "_user_metrics": ("keras_integration/training.py", "see `_compile_metrics`", "see `_compile_metrics`"),
    "_user_weighted_metrics": ("keras_integration/training.py", "see `_compile_metrics`", "see `_compile_metrics`"),
    "_flat_metrics": ("keras_integration/training.py", "see `_compile_metrics`", "see `_compile_metrics`"),
    "_flat_weighted_metrics": ("keras_integration/training.py", "see `_compile_metrics`", "see `_compile_metrics`"),
    "_flatten_y": ("keras_integration/training.py", "see `_compile_metrics`", "see `_compile_metrics`"),
    "_maybe_symbolic_build": (
        "keras_integration/training.py",
        "under a distribution strategy Keras builds metrics and optimizer state from one unsplit batch before the "
        "first step; the labels must first be split out of the inputs as in a training step.",
        "none: Keras calls it from `fit` itself; building the metrics before `fit` still leaves Keras' own call.",
    ),
    "_symbolic_build": ("keras_integration/training.py", "see `_maybe_symbolic_build`",
                        "see `_maybe_symbolic_build`"),
    "_distribute_strategy": ("keras_integration/training.py", "the strategy the model was compiled under",
                             "`tf.distribute.get_strategy()`, which is the default strategy outside `scope()`, "
                             "where `fit` runs."),
    "_initial_epoch": (
        "keras_integration/keras_private.py",
        "`set_initial_epoch` (here): `TrainingCheckpoint(resume=True)` continues a `fit` after the checkpoint's "
        "epoch, as Keras' `BackupAndRestore` does (`fit` reads it once it has called `on_train_begin`).",
        "`fit(initial_epoch=...)`, which the caller must compute before `fit`; every worker of a cluster would have "
        "to load the checkpoint first. Keras' `BackupAndRestore` resumes from epoch starts too, but writes from "
        "every worker of a MultiWorkerMirroredStrategy to the same files and keeps no history.",
    ),
    "_learning_rate": (
        "keras_integration/model_card.py",
        "the learning-rate schedule object, to describe it in the model card.",
        "`optimizer.learning_rate`, which gives only the current value of a schedule.",
    ),
}

# TensorFlow's private attributes in use, listed here too: name -> (where, why, the public alternative considered)
PRIVATE_TF_APIS: dict[str, tuple[str, str, str]] = {
    "_batch_size": (
        "keras_integration/model_card.py",
        "the size given to `tf.data.Dataset.batch`, for the model card's batch size.",
        "the static leading dimension of `element_spec`, unknown unless `drop_remainder=True` (used as fallback).",
    ),
    "_input_dataset": ("keras_integration/model_card.py", "walks back from a mapped/prefetched dataset to its batch "
                       "stage", "none in tf.data's public API"),
    "_UnbatchDataset": ("keras_integration/model_card.py", "compared by class name: the walk back stops at an "
                        "`unbatch` (the batch size before it no longer applies)", "none in tf.data's public API"),
    "_RebatchDataset": ("keras_integration/model_card.py", "compared by class name: the walk back stops at a "
                        "`rebatch` (a distribution strategy's split)", "none in tf.data's public API"),
}
