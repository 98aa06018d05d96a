"""Make every model class loadable from a `.keras` file once `tfmodels` is imported, without importing the models.

Keras finds a saved custom class only in its registry of custom objects (`keras.saving.get_custom_objects()`),
filled by `@keras.saving.register_keras_serializable` when the class's module runs. `import tfmodels` must stay
light (no TensorFlow), so it cannot import the model modules. Instead, as soon as Keras is imported (now, if it
already is), each model's registered name (`tfmodels>TFBertModel`) is mapped to a small stand-in whose `from_config`
imports the real module, which then registers the real class in place of the stand-in.

Example:
    >>> import tfmodels, keras
    >>> model = keras.models.load_model("bert.keras")  # no need to import tfmodels.models.bert first
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
from typing import Any

PACKAGE = "tfmodels"  # the `package` of every `register_keras_serializable` in tfmodels


class LazyModelClass:
    """Stands in for a model class in Keras' registry until a saved model needs it."""

    def __init__(self, module: str, name: str) -> None:
        self.module, self.name = module, name

    def load(self) -> type:
        """The real class (importing its module registers it with Keras in place of this stand-in)."""
        return getattr(importlib.import_module(self.module), self.name)

    def from_config(self, config: dict[str, Any]) -> Any:
        """What Keras calls when deserialising: the real class's `from_config`."""
        return self.load().from_config(config)

    def __repr__(self) -> str:
        return f"<lazy {self.module}.{self.name}>"


def register_model_classes(classes: dict[str, str]) -> None:
    """Put a `LazyModelClass` under `tfmodels>{name}` for each `{name: module}` that Keras does not know yet."""
    import keras

    registry = keras.saving.get_custom_objects()
    for name, module in classes.items():
        registry.setdefault(f"{PACKAGE}>{name}", LazyModelClass(module, name))


class _AfterKerasImport(importlib.abc.MetaPathFinder):
    """Finds nothing itself: when `keras` is about to be imported, it wraps Keras' own loader so that the model
    classes are registered right after `keras` finishes importing, then removes itself."""

    def __init__(self, classes: dict[str, str]) -> None:
        self.classes = classes

    def find_spec(self, fullname: str, path: Any = None, target: Any = None):
        if fullname != "keras":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        execute = spec.loader.exec_module

        def exec_module(module) -> None:
            execute(module)
            register_model_classes(self.classes)

        spec.loader.exec_module = exec_module
        return spec


def register_when_keras_is_imported(classes: dict[str, str]) -> None:
    """Register `classes` (`{name: module}`) now if Keras is imported, else right after Keras is imported."""
    if "keras" in sys.modules:
        register_model_classes(classes)
    elif not any(isinstance(finder, _AfterKerasImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _AfterKerasImport(classes))
