"""Auto classes: pick the config and model class from a checkpoint's `model_type`."""

from __future__ import annotations

import dataclasses
import importlib
import os
from typing import Any

from tfmodels.configuration import PretrainedConfig
from tfmodels.errors import ConfigError
from tfmodels.models.registry import architectures


def _config_class(model_type: str, source: str) -> type[PretrainedConfig]:
    registered = architectures()
    if model_type not in registered:
        raise ConfigError(
            f"Unknown model_type {model_type!r} in {source}. Supported model types: {sorted(registered)}."
        )
    architecture = registered[model_type]
    return getattr(importlib.import_module(architecture.module_of(architecture.config)), architecture.config)


class AutoConfig:
    """Load the config class named by `model_type` in `config.json`.

    Example:
        >>> config = AutoConfig.from_pretrained("bert-dir")
        >>> type(config).__name__
        'BertConfig'
    """

    def __init__(self) -> None:
        raise EnvironmentError("AutoConfig is created with AutoConfig.from_pretrained() or AutoConfig.for_model().")

    @classmethod
    def for_model(cls, model_type: str, **kwargs: Any) -> PretrainedConfig:
        """A fresh config of the class registered for `model_type`.

        Example:
            >>> AutoConfig.for_model("gpt2", n_layer=2).n_layer
            2
        """
        return _config_class(model_type, "for_model()")(**kwargs)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike, **kwargs: Any):
        """Load the config class named by `model_type`, from a directory, a file or a Hub repo id."""
        from tfmodels.hub import HubOptions

        hub_kwargs = dataclasses.asdict(HubOptions.pop_from(kwargs))
        config_dict = PretrainedConfig.get_config_dict(pretrained_model_name_or_path, **hub_kwargs)
        if "model_type" not in config_dict:
            raise ConfigError(f"The config at {pretrained_model_name_or_path} has no 'model_type' key; use a "
                              "specific config class such as BertConfig.")
        config_class = _config_class(config_dict["model_type"], os.fspath(pretrained_model_name_or_path))
        return config_class.from_pretrained(pretrained_model_name_or_path, **hub_kwargs, **kwargs)


class _AutoModel:
    _auto_name = ""

    def __init__(self) -> None:
        raise EnvironmentError(f"{type(self).__name__} is created with from_pretrained() or from_config().")

    @classmethod
    def _model_class(cls, config: PretrainedConfig):
        mapping = cls.mapping()
        model_type = config.model_type
        if model_type not in mapping:
            raise ConfigError(
                f"{cls.__name__} has no model for model_type {model_type!r}; it supports {sorted(mapping)}."
            )
        architecture = architectures()[model_type]
        return getattr(importlib.import_module(architecture.module_of(mapping[model_type])), mapping[model_type])

    @classmethod
    def mapping(cls) -> dict[str, str]:
        """`model_type` -> the class this auto class loads, as the architecture folders declare them."""
        return {model_type: name for model_type, architecture in architectures().items()
                for name, autos in architecture.classes.items() if cls._auto_name in autos}

    @classmethod
    def from_config(cls, config: PretrainedConfig, **kwargs: Any):
        """A freshly initialised model for `config`."""
        return cls._model_class(config)(config, **kwargs)

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path: str | os.PathLike, *model_args: Any, **kwargs: Any):
        """Load the model class that matches the checkpoint's `model_type`.

        Example:
            >>> model = TFAutoModelForSequenceClassification.from_pretrained("bert-dir", num_labels=2)
        """
        from tfmodels.hub import HubOptions

        hub_kwargs = dataclasses.asdict(HubOptions.pop_from(kwargs))
        config = kwargs.pop("config", None)
        if not isinstance(config, PretrainedConfig):
            config, kwargs = AutoConfig.from_pretrained(
                config or pretrained_model_name_or_path, return_unused_kwargs=True, **hub_kwargs, **kwargs
            )
        return cls._model_class(config).from_pretrained(pretrained_model_name_or_path, *model_args, config=config,
                                                        **hub_kwargs, **kwargs)


class TFAutoModel(_AutoModel):
    """Auto class: the bare model of a checkpoint's `model_type` (see `mapping()`)."""

    _auto_name = "TFAutoModel"


class TFAutoModelForPreTraining(_AutoModel):
    """Auto class: the pre-training model of a checkpoint's `model_type` (see `mapping()`)."""

    _auto_name = "TFAutoModelForPreTraining"


class TFAutoModelForMaskedLM(_AutoModel):
    """Auto class: the masked-LM model of a checkpoint's `model_type` (see `mapping()`)."""

    _auto_name = "TFAutoModelForMaskedLM"


class TFAutoModelForCausalLM(_AutoModel):
    """Auto class: the causal-LM model of a checkpoint's `model_type` (see `mapping()`)."""

    _auto_name = "TFAutoModelForCausalLM"


class TFAutoModelForSequenceClassification(_AutoModel):
    """Auto class: the sequence classifier of a checkpoint's `model_type` (see `mapping()`)."""

    _auto_name = "TFAutoModelForSequenceClassification"


class TFAutoModelForTokenClassification(_AutoModel):
    """Auto class: the token classifier of a checkpoint's `model_type` (see `mapping()`)."""

    _auto_name = "TFAutoModelForTokenClassification"


class TFAutoModelForQuestionAnswering(_AutoModel):
    """Auto class: the question-answering model of a checkpoint's `model_type` (see `mapping()`)."""

    _auto_name = "TFAutoModelForQuestionAnswering"


class TFAutoModelForMultipleChoice(_AutoModel):
    """Auto class: the multiple-choice model of a checkpoint's `model_type` (see `mapping()`)."""

    _auto_name = "TFAutoModelForMultipleChoice"


class TFAutoModelForNextSentencePrediction(_AutoModel):
    """Auto class: the next-sentence model of a checkpoint's `model_type` (see `mapping()`)."""

    _auto_name = "TFAutoModelForNextSentencePrediction"


class TFAutoModelForSeq2SeqLM(_AutoModel):
    """Auto class: the sequence-to-sequence LM of a checkpoint's `model_type` (see `mapping()`)."""

    _auto_name = "TFAutoModelForSeq2SeqLM"


class TFAutoModelForImageClassification(_AutoModel):
    """Auto class: the image classifier of a checkpoint's `model_type` (see `mapping()`)."""

    _auto_name = "TFAutoModelForImageClassification"


class TFAutoModelForSpeechSeq2Seq(_AutoModel):
    """Auto class: the speech-to-text model of a checkpoint's `model_type` (see `mapping()`)."""

    _auto_name = "TFAutoModelForSpeechSeq2Seq"


def load_pretrained(source: str | os.PathLike, **kwargs: Any):
    """Load a checkpoint with the class its config names in `architectures` (e.g. `BertForSequenceClassification`
    -> `TFBertForSequenceClassification`), else the bare model of its `model_type`.

    Example:
        >>> model = load_pretrained("path/to/checkpoint")  # the head it was saved with
    """
    import tfmodels

    config = AutoConfig.from_pretrained(source)
    for architecture in config.architectures or []:
        model_class = getattr(tfmodels, "TF" + architecture, None)
        if model_class is not None:
            return model_class.from_pretrained(source, config=config, **kwargs)
    return TFAutoModel.from_pretrained(source, config=config, **kwargs)


AUTO_CLASS_NAMES = [
    "TFAutoModel", "TFAutoModelForPreTraining", "TFAutoModelForMaskedLM", "TFAutoModelForCausalLM",
    "TFAutoModelForSequenceClassification", "TFAutoModelForTokenClassification", "TFAutoModelForQuestionAnswering",
    "TFAutoModelForMultipleChoice", "TFAutoModelForNextSentencePrediction", "TFAutoModelForSeq2SeqLM",
    "TFAutoModelForImageClassification", "TFAutoModelForSpeechSeq2Seq",
]
