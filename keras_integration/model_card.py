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


def hyperparameters(model: keras.Model, history: Any = None, batch_size: int | None = None) -> dict[str, Any]:
    """Training hyper-parameters from the optimizer, the fit arguments and the dtype policy."""
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

    `history` is a `keras.callbacks.History` or its `history` dict; by default `model.history` from the last
    `fit`. Without any history the card has no results table. Returns the card's path.

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
    datasets = _as_list(dataset_tags)
    dataset_names = _as_list(dataset) or datasets
    final = {k: v[-1] for k, v in logs.items() if k.startswith("val_")} or {k: v[-1] for k, v in logs.items()}
    eval_results = []
    if task and datasets and final:
        for metric, value in sorted(final.items()):
            eval_results.append(EvalResult(
                task_type=task, task_name=TASK_NAMES.get(task, task), dataset_type=datasets[0],
                dataset_name=dataset_names[0], dataset_args=(_as_list(dataset_args) or [None])[0],
                metric_type=metric.removeprefix("val_"), metric_name=metric, metric_value=value,
            ))
    card_data = ModelCardData(
        model_name=model_name, library_name=library_name,
        tags=list(dict.fromkeys(["keras", "tensorflow", "generated_from_keras_callback"] + (_as_list(tags) or []))),
        license=license, base_model=finetuned_from, datasets=datasets, language=_as_list(language),
        pipeline_tag=TASK_PIPELINES.get(task) if task else None, eval_results=eval_results or None,
    )

    lines = [f"# {model_name}", ""]
    source = f"a fine-tuned version of [{finetuned_from}](https://huggingface.co/{finetuned_from})" \
        if finetuned_from else f"a {type(model).__name__} model"
    trained_on = f" on the {', '.join(dataset_names)} dataset" if dataset_names else ""
    lines += [f"This model is {source}{trained_on}, trained with Keras ({library_name}).", ""]
    if final:
        lines += ["It achieves the following results at the end of training:", ""]
        lines += [f"- {name}: {value:.4f}" for name, value in sorted(final.items())] + [""]
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
