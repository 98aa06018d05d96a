"""`preprocessor_config.json`: the file in which a checkpoint keeps how its inputs are prepared (the reference's image
processors and feature extractors), read and written by `ImageProcessor` and `WhisperFeatureExtractor`.

Example:
    >>> settings = read_preprocessor_config("path/to/vit")  # a dict of the file's fields
"""

from __future__ import annotations

import json
import os
from typing import Any

PREPROCESSOR_CONFIG = "preprocessor_config.json"


def read_preprocessor_config(path: str | os.PathLike) -> dict[str, Any]:
    """The fields of `preprocessor_config.json` in a directory (or of that file): a JSON object, or a clear error."""
    path = os.fspath(path)
    file = os.path.join(path, PREPROCESSOR_CONFIG) if os.path.isdir(path) else path
    if not os.path.isfile(file):
        raise FileNotFoundError(f"No {PREPROCESSOR_CONFIG} at {path}: save one with the processor's "
                                "save_pretrained(directory).")
    with open(file, encoding="utf-8") as handle:
        try:
            settings = json.load(handle)
        except json.JSONDecodeError as err:
            raise ValueError(f"{file} is not valid JSON: {err}.") from None
    if not isinstance(settings, dict):
        raise ValueError(f"{file} must hold a JSON object; received {type(settings).__name__}.")
    return settings


def preprocessor_json(settings: dict[str, Any]) -> str:
    """`preprocessor_config.json`'s text for `settings`: sorted keys, indent 2, a final newline."""
    return json.dumps(settings, indent=2, sort_keys=True) + "\n"


def write_preprocessor_config(directory: str | os.PathLike, settings: dict[str, Any]) -> str:
    """Write `settings` as `preprocessor_config.json` into `directory` (created if needed); returns its path."""
    os.makedirs(directory, exist_ok=True)
    file = os.path.join(os.fspath(directory), PREPROCESSOR_CONFIG)
    with open(file, "w", encoding="utf-8") as handle:
        handle.write(preprocessor_json(settings))
    return file
