"""Architectures register themselves from their own folder: each `tfmodels/models/<name>/__init__.py` declares an
`ARCHITECTURE` (no TensorFlow import), which `tfmodels` (its exports) and the auto classes read; a folder holding
several model types (CLIP and its towers) declares `ARCHITECTURES`.

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
from collections.abc import Mapping


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


# Class-name suffix -> the auto classes it serves, for a decoder-only LLM family.
DECODER_AUTO_CLASSES = {
    "Model": ("TFAutoModel",),
    "ForCausalLM": ("TFAutoModelForCausalLM",),
    "ForSequenceClassification": ("TFAutoModelForSequenceClassification",),
}


def decoder_architecture(model_type: str, prefix: str, package: str, **class_prefixes: str) -> Architecture:
    """The declaration of a decoder-only LLM family: `TF<prefix>Model`, `TF<prefix>ForCausalLM` and
    `TF<prefix>ForSequenceClassification`; `class_prefixes` gives a task its own prefix (Gemma 3's causal LM is
    `TFGemma3ForCausalLM` beside `TFGemma3TextModel`).

    Example:
        >>> ARCHITECTURE = decoder_architecture("mistral", "Mistral", __name__)
    """
    return Architecture(model_type=model_type, config=f"{prefix}Config", package=package,
                        classes={f"TF{class_prefixes.get(suffix, prefix)}{suffix}": autos
                                 for suffix, autos in DECODER_AUTO_CLASSES.items()})


@functools.cache
def architectures() -> dict[str, Architecture]:
    """Every architecture folder's declaration, by `model_type`."""
    import tfmodels.models

    found = {}
    for module in pkgutil.iter_modules(tfmodels.models.__path__):
        if module.ispkg:
            package = importlib.import_module(f"tfmodels.models.{module.name}")
            declared = getattr(package, "ARCHITECTURES", None) or [getattr(package, "ARCHITECTURE", None)]
            for architecture in declared:
                if architecture is not None:
                    found[architecture.model_type] = architecture
    return found


def package_getattr(*declared: Architecture):
    """The package-level `__getattr__` of a folder declaring several model types (CLIP's model and its two towers,
    each with its config): the first architecture that knows the name imports it.

    Example:
        >>> ARCHITECTURES = (clip, clip_text, clip_vision)
        >>> __getattr__ = package_getattr(*ARCHITECTURES)
    """
    def module_getattr(name: str):
        for architecture in declared:
            try:
                return architecture.module_getattr(name)
            except AttributeError:
                continue
        raise AttributeError(f"module {declared[0].package!r} has no attribute {name!r}")

    return module_getattr
