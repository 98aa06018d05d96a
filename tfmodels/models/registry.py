"""Architectures register themselves from their own folder: each `tfmodels/models/<name>/__init__.py` declares an
`ARCHITECTURE` (no TensorFlow import), which `tfmodels` (its exports) and the auto classes read.

Example (`tfmodels/models/roberta/__init__.py`):
    >>> ARCHITECTURE = Architecture(
    ...     model_type="roberta", config="RobertaConfig", package=__name__,
    ...     classes={"TFRobertaModel": ("TFAutoModel",), "TFRobertaForMaskedLM": ("TFAutoModelForMaskedLM",)})
    >>> __getattr__ = ARCHITECTURE.module_getattr
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import pkgutil
from collections.abc import Iterable, Mapping


@dataclasses.dataclass(frozen=True)
class Architecture:
    """One architecture's public names: its `model_type`, config class, model classes and the auto classes each
    model class serves. The config lives in `<package>.configuration_<folder>`, the classes in
    `<package>.modeling_<folder>`."""

    model_type: str
    config: str
    package: str
    classes: Mapping[str, tuple[str, ...]]

    @property
    def folder(self) -> str:
        """The folder's name (`xlm_roberta`), the suffix of its module names."""
        return self.package.rsplit(".", 1)[-1]

    def module_of(self, name: str) -> str:
        """The module defining `name` (the config or a model class)."""
        kind = "configuration" if name == self.config else "modeling"
        return f"{self.package}.{kind}_{self.folder}"

    @property
    def names(self) -> list[str]:
        """The public names the architecture adds to `tfmodels`: its config and model classes."""
        return [self.config, *self.classes]

    def module_getattr(self, name: str):
        """A package-level `__getattr__`: imports the config or modeling module on first use."""
        if name in self.names or name == f"TF{self.config[:-len('Config')]}PreTrainedModel":
            return getattr(importlib.import_module(self.module_of(name)), name)
        raise AttributeError(f"module {self.package!r} has no attribute {name!r}")


@functools.cache
def architectures() -> dict[str, Architecture]:
    """Every architecture folder's declaration, by `model_type`."""
    import tfmodels.models

    found = {}
    for module in pkgutil.iter_modules(tfmodels.models.__path__):
        if module.ispkg:
            declared = getattr(importlib.import_module(f"tfmodels.models.{module.name}"), "ARCHITECTURE", None)
            if declared is not None:
                found[declared.model_type] = declared
    return found


def alias_classes(originals: Iterable[type], base: type, module: str, renames: Mapping[str, str]) -> dict[str, type]:
    """Another architecture's model classes under this one's names (mT5 is T5, Mistral is Llama, ... with another
    config): each original `TF<Old><Task>` becomes a class on `base` (`TF<New>PreTrainedModel`, which sets the
    config class) and the original's task mixins, with the original's own attributes and methods (not `call`,
    which `TaskModel` generates per class). `renames` maps old to new text in the class names and docstrings,
    applied in order.

    Example:
        >>> classes = alias_classes(LLAMA_CLASSES, TFMistralPreTrainedModel, __name__, {"Llama": "Mistral"})
        >>> sorted(classes)
        ['TFMistralForCausalLM', 'TFMistralForSequenceClassification', 'TFMistralModel']
    """

    def renamed(text: str) -> str:
        for old, new in renames.items():
            text = text.replace(old, new)
        return text

    classes = {}
    for original in originals:
        name = renamed(original.__name__)
        if name == original.__name__:
            raise ValueError(f"renames={dict(renames)} leave the class name {name!r} unchanged: map the original "
                             "architecture's name in it to the new one (e.g. {'Llama': 'Mistral'}).")
        namespace = {key: value for key, value in original.__dict__.items()
                     if not key.startswith("__") and key != "call"}
        namespace.update({"__module__": module, "__qualname__": name, "__doc__": renamed(original.__doc__ or "")})
        classes[name] = type(name, (base, *original.__bases__[1:]), namespace)
    return classes
