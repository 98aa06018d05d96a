"""Auto classes: pick the config and model class from a checkpoint's `model_type`."""

from __future__ import annotations

import dataclasses
import importlib
import os
from typing import Any

from tfmodels.configuration import PretrainedConfig
from tfmodels.errors import ConfigError

_CONFIGS = {"bert": ("tfmodels.models.bert", "BertConfig"), "gpt2": ("tfmodels.models.gpt2", "GPT2Config")}
_MODULES = {"bert": "tfmodels.models.bert", "gpt2": "tfmodels.models.gpt2"}


def _config_class(model_type: str, source: str) -> type[PretrainedConfig]:
    if model_type not in _CONFIGS:
        raise ConfigError(
            f"Unknown model_type {model_type!r} in {source}. Supported model types: {sorted(_CONFIGS)}."
        )
    module, name = _CONFIGS[model_type]
    return getattr(importlib.import_module(module), name)


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
    _mapping: dict[str, str] = {}

    def __init__(self) -> None:
        raise EnvironmentError(f"{type(self).__name__} is created with from_pretrained() or from_config().")

    @classmethod
    def _model_class(cls, config: PretrainedConfig):
        model_type = config.model_type
        if model_type not in cls._mapping:
            raise ConfigError(
                f"{cls.__name__} has no model for model_type {model_type!r}; it supports {sorted(cls._mapping)}."
            )
        return getattr(importlib.import_module(_MODULES[model_type]), cls._mapping[model_type])

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


def _auto(name: str, mapping: dict[str, str]) -> type[_AutoModel]:
    return type(name, (_AutoModel,), {"_mapping": mapping, "__doc__": f"Auto class for {sorted(mapping.values())}.",
                                      "__module__": __name__})


TFAutoModel = _auto("TFAutoModel", {"bert": "TFBertModel", "gpt2": "TFGPT2Model"})
TFAutoModelForPreTraining = _auto("TFAutoModelForPreTraining", {"bert": "TFBertForPreTraining",
                                                                "gpt2": "TFGPT2LMHeadModel"})
TFAutoModelForMaskedLM = _auto("TFAutoModelForMaskedLM", {"bert": "TFBertForMaskedLM"})
TFAutoModelForCausalLM = _auto("TFAutoModelForCausalLM", {"gpt2": "TFGPT2LMHeadModel"})
TFAutoModelForSequenceClassification = _auto(
    "TFAutoModelForSequenceClassification",
    {"bert": "TFBertForSequenceClassification", "gpt2": "TFGPT2ForSequenceClassification"},
)
TFAutoModelForTokenClassification = _auto("TFAutoModelForTokenClassification", {"bert": "TFBertForTokenClassification"})
TFAutoModelForQuestionAnswering = _auto("TFAutoModelForQuestionAnswering", {"bert": "TFBertForQuestionAnswering"})
TFAutoModelForMultipleChoice = _auto("TFAutoModelForMultipleChoice", {"bert": "TFBertForMultipleChoice"})

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
    "TFAutoModelForMultipleChoice",
]
