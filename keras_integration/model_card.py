"""Model cards (`README.md` with Hub metadata) written from a Keras training run."""

from __future__ import annotations

import importlib.metadata
import math
import os
from collections.abc import Mapping, Sequence
from typing import Any

import keras

TASK_PIPELINES = {
    "text-classification": "text-classification", "token-classification": "token-classification",
    "question-answering": "question-answering", "fill-mask": "fill-mask", "text-generation": "text-generation",
    "multiple-choice": "multiple-choice", "feature-extraction": "feature-extraction",
}
TASK_NAMES = {
    "text-classification": "Text Classification", "token-classification": "Token Classification",
    "question-answering": "Question Answering", "fill-mask": "Masked Language Modeling",
    "text-generation": "Causal Language Modeling", "multiple-choice": "Multiple Choice",
    "feature-extraction": "Feature Extraction",
}


def task_of(model: keras.Model) -> str | None:
    """The Hub task of a model, from its class name (`...ForSequenceClassification` -> text-classification)."""
    name = type(model).__name__
    for fragment, task in (("SequenceClassification", "text-classification"),
                           ("TokenClassification", "token-classification"),
                           ("QuestionAnswering", "question-answering"), ("MaskedLM", "fill-mask"),
                           ("LMHead", "text-generation"), ("CausalLM", "text-generation"),
                           ("MultipleChoice", "multiple-choice")):
        if fragment in name:
            return task
    return None


def _as_list(value) -> list | None:
    if value is None:
        return None
    return [value] if isinstance(value, str) else list(value)


def _learning_rate(optimizer) -> str:
    rate = optimizer.learning_rate
    schedule = getattr(optimizer, "_learning_rate", None)
    if isinstance(schedule, keras.optimizers.schedules.LearningRateSchedule):
        config = {k: v for k, v in schedule.get_config().items() if k != "name"}
        return f"{type(schedule).__name__}({', '.join(f'{k}={v}' for k, v in config.items())})"
    return f"{float(keras.ops.convert_to_numpy(rate)):.3g}"


def batch_size_of(data: Any, batch_size: int | None = None) -> int | None:
    """The batch size `model.fit(data, batch_size=batch_size)` trains with, or None when `data` does not say.

    A `tf.data.Dataset` carries it: the size of the last `batch` / `padded_batch` in its pipeline, or else its
    elements' static leading dimension; `batch_size` is then ignored, as `fit` ignores it. Arrays and tensors are
    batched by `fit` itself: `batch_size`, or Keras' default of 32. Other inputs (generators, `PyDataset`) give
    `batch_size` or None.

    Example:
        >>> batch_size_of(tf.data.Dataset.from_tensor_slices(np.zeros((10, 3))).batch(4))
        4
    """
    import tensorflow as tf

    if isinstance(data, tf.data.Dataset):
        return _dataset_batch_size(data)
    arrays = tf.nest.flatten(data) if data is not None else []
    if arrays and all(hasattr(array, "shape") and hasattr(array, "dtype") for array in arrays):
        return batch_size or 32
    return batch_size


def _dataset_batch_size(dataset) -> int | None:
    import tensorflow as tf

    # tf.data keeps no public record of a `batch` call (the leading dimension is unknown when the last batch may
    # be smaller): read the size the pipeline stores, walking back through maps, prefetches, shuffles, repeats.
    stage = dataset
    while stage is not None and type(stage).__name__ not in ("_UnbatchDataset", "_RebatchDataset"):
        size = getattr(stage, "_batch_size", None)
        if size is not None:
            value = tf.get_static_value(size)
            return int(value) if value is not None and value > 0 else None
        stage = getattr(stage, "_input_dataset", None)
    # No batch call: the static leading dimension, which is what `fit` takes for the batch.
    specs = [spec for spec in tf.nest.flatten(dataset.element_spec) if isinstance(spec, tf.TensorSpec)]
    if specs and specs[0].shape.rank and specs[0].shape[0] is not None:
        return int(specs[0].shape[0])
    return None


def hyperparameters(model: keras.Model, history: Any = None, batch_size: int | None = None) -> dict[str, Any]:
    """Training hyper-parameters from the optimizer, the fit arguments and the dtype policy. The batch size is
    `batch_size`, or the one the last `fit` trained with (see `batch_size_of`) when the model recorded it."""
    values: dict[str, Any] = {}
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None:
        inner = getattr(optimizer, "inner_optimizer", optimizer)  # LossScaleOptimizer wraps the real one
        values["optimizer"] = type(inner).__name__
        values["learning_rate"] = _learning_rate(inner)
        for key in ("beta_1", "beta_2", "epsilon", "weight_decay", "momentum", "clipnorm", "global_clipnorm"):
            value = inner.get_config().get(key)
            if value not in (None, 0, 0.0, False):
                values[key] = value
    params = getattr(history, "params", None) or {}
    batch_size = batch_size if batch_size is not None else getattr(model, "_train_batch_size", None)
    if batch_size is not None:
        values["batch_size"] = batch_size
    if params.get("epochs") is not None:
        values["epochs"] = params["epochs"]
    if params.get("steps") is not None:
        values["steps_per_epoch"] = params["steps"]
    values["training_precision"] = keras.config.dtype_policy().name
    return values


def _history_rows(history: Mapping[str, Sequence[float]]) -> tuple[list[str], list[list[float]], int | None]:
    columns = sorted(history, key=lambda k: (k.startswith("val_"), k != "loss" and k != "val_loss", k))
    epochs = max((len(v) for v in history.values()), default=0)
    rows = [[history[c][e] if e < len(history[c]) else math.nan for c in columns] for e in range(epochs)]
    target = "val_loss" if "val_loss" in history else ("loss" if "loss" in history else None)
    best = min(range(epochs), key=lambda e: history[target][e]) if target and epochs else None
    return columns, rows, best


def _framework_versions() -> list[str]:
    versions = []
    for package in ("tfmodels", "keras", "tensorflow", "datasets", "tokenizers"):
        try:
            versions.append(f"- {package} {importlib.metadata.version(package)}")
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def create_model_card(
    model: keras.Model,
    output_dir: str | os.PathLike,
    model_name: str,
    language: str | Sequence[str] | None = None,
    license: str | None = None,
    tags: str | Sequence[str] | None = None,
    finetuned_from: str | None = None,
    tasks: str | Sequence[str] | None = None,
    dataset_tags: str | Sequence[str] | None = None,
    dataset: str | Sequence[str] | None = None,
    dataset_args: str | Sequence[str] | None = None,
    history: Any = None,
    batch_size: int | None = None,
    library_name: str = "tfmodels",
) -> str:
    """Write `output_dir/README.md`: Hub metadata (library, tags, license, base model, datasets, language,
    pipeline tag, and a `model-index` with the final metrics) and a body with the training hyper-parameters, a
    per-epoch results table from the Keras `History` (best epoch marked) and the framework versions.

    `library_name` is the library the Hub offers a snippet for: `"transformers"` when `output_dir` holds the weights
    in transformers' PyTorch layout (the card then says so), else `"tfmodels"`.

    `history` is a `keras.callbacks.History` or its `history` dict; by default `model.history` from the last
    `fit`. Without any history the card has no results table. The validation metrics of the last epoch (else
    the training ones) go to `model-index` whenever a dataset is known: `dataset_tags`, else `dataset` (the card
    says why when neither is given). `batch_size` defaults to the one the last `fit` used, when the model
    recorded it (`InternalLossTrainer` does, see `batch_size_of`). Returns the card's path.

    Example:
        >>> create_model_card(model, "out", "my-model", license="apache-2.0", finetuned_from="bert-base-uncased",
        ...                   dataset_tags="imdb")
    """
    from huggingface_hub import EvalResult, ModelCard, ModelCardData

    if history is None:
        history = getattr(model, "history", None)
    logs = history.history if hasattr(history, "history") else (history or {})
    logs = {k: [float(x) for x in v] for k, v in dict(logs).items() if len(v)}
    task = (_as_list(tasks) or [task_of(model)])[0]
    datasets = _as_list(dataset_tags) or _as_list(dataset)  # a named dataset is a Hub dataset id unless tagged
    dataset_names = _as_list(dataset) or datasets
    final = {k: v[-1] for k, v in logs.items() if k.startswith("val_")} or {k: v[-1] for k, v in logs.items()}
    eval_results = []
    if datasets and final:
        result_task = task or "other"
        for metric, value in sorted(final.items()):
            eval_results.append(EvalResult(
                task_type=result_task, task_name=TASK_NAMES.get(result_task, result_task), dataset_type=datasets[0],
                dataset_name=dataset_names[0], dataset_args=(_as_list(dataset_args) or [None])[0],
                metric_type=metric.removeprefix("val_"), metric_name=metric, metric_value=value,
            ))
    card_data = ModelCardData(
        model_name=model_name, library_name=library_name,
        tags=list(dict.fromkeys(["keras", "tensorflow", "tfmodels", "generated_from_keras_callback"]
                                + (_as_list(tags) or []))),
        license=license, base_model=finetuned_from, datasets=datasets, language=_as_list(language),
        pipeline_tag=TASK_PIPELINES.get(task) if task else None, eval_results=eval_results or None,
    )

    lines = [f"# {model_name}", ""]
    source = f"a fine-tuned version of [{finetuned_from}](https://huggingface.co/{finetuned_from})" \
        if finetuned_from else f"a {type(model).__name__} model"
    trained_on = f" on the {', '.join(dataset_names)} dataset" if dataset_names else ""
    lines += [f"This model is {source}{trained_on}, trained with Keras (tfmodels).", ""]
    if library_name == "transformers":
        lines += ["Its weights are in the PyTorch layout of transformers (safetensors): transformers (PyTorch), vLLM "
                  "and the Hub load them as they are, and so does tfmodels (Keras 3).", ""]
    if final:
        lines += ["It achieves the following results at the end of training:", ""]
        lines += [f"- {name}: {value:.4f}" for name, value in sorted(final.items())] + [""]
        if not datasets:
            lines += ["These results are not in the Hub metadata (`model-index`): no dataset was named. Pass "
                      "`dataset_tags=` or `dataset=` to `create_model_card` to list them.", ""]
    else:
        lines += ["No evaluation results: the model has no training history (no `fit` run and no `history=`).", ""]
    lines += ["## Training hyperparameters", ""]
    lines += [f"- {name}: {value}" for name, value in hyperparameters(model, history, batch_size).items()] + [""]
    columns, rows, best = _history_rows(logs)
    if rows:
        lines += ["## Training results", "", "| epoch | " + " | ".join(columns) + " |",
                  "|" + "---|" * (len(columns) + 1)]
        for epoch, row in enumerate(rows):
            mark = " (best)" if epoch == best else ""
            lines.append(f"| {epoch}{mark} | " + " | ".join(f"{value:.4f}" for value in row) + " |")
        lines.append("")
    lines += ["## Framework versions", ""] + _framework_versions() + [""]
    card = ModelCard.from_template(card_data, template_str="---\n{{ card_data }}\n---\n\n" + "\n".join(lines))
    os.makedirs(output_dir, exist_ok=True)
    path = os.path.join(os.fspath(output_dir), "README.md")
    card.save(path)
    return path
