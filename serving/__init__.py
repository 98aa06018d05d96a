"""SavedModel export for TF Serving: signatures, versioned layout, warm-up and verification.

Works on any `keras.Model` with `input_signature`, `dummy_inputs` and a dict of outputs (mix in `ServingMixin`);
never imports `tfmodels` (except the command line, `python -m serving export`). Names are imported lazily.

Example:
    >>> from serving import export_saved_model
    >>> export_saved_model(model, "exports/classifier")  # -> "exports/classifier/1"
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "serving.export": ["ExportError", "export_saved_model", "next_version", "write_model_config"],
    "serving.signatures": ["ServingMixin", "default_signatures", "int64_specs"],
}
_NAME_TO_MODULE = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_NAME_TO_MODULE)


def __getattr__(name: str):
    if name in _NAME_TO_MODULE:
        return getattr(importlib.import_module(_NAME_TO_MODULE[name]), name)
    raise AttributeError(f"module 'serving' has no attribute '{name}'")


def __dir__() -> list[str]:
    return __all__
