"""Shard sizes, shard file names, and index files (`*.index.json`)."""

from __future__ import annotations

import json
import os
import re
from typing import Any

from tfmodels.errors import CheckpointError


def convert_file_size_to_int(size: int | str) -> int:
    """`"5GB"` -> 5_000_000_000, `"150KiB"` -> 153_600; an int is returned as is.

    Decimal (KB/MB/GB) and binary (KiB/MiB/GiB) units, as the reference; a decimal unit ending in a lowercase
    `b` means bits (`"8mb"` -> 1_000_000 bytes).

    Example:
        >>> convert_file_size_to_int("20KB")
        20000
    """
    if isinstance(size, int) and not isinstance(size, bool):
        if size <= 0:
            raise ValueError(f"max_shard_size must be positive; received {size}.")
        return size
    if not isinstance(size, str):
        raise ValueError(f"max_shard_size must be an int or a string such as '5GB'; received {size!r}.")
    text = size.strip()
    binary = {"GIB": 2**30, "MIB": 2**20, "KIB": 2**10}
    decimal = {"GB": 10**9, "MB": 10**6, "KB": 10**3}
    upper = text.upper()
    for table in (binary, decimal):
        for unit, factor in table.items():
            if upper.endswith(unit):
                number = text[: -len(unit)].strip()
                if not re.fullmatch(r"\d+", number):
                    break
                value = int(number) * factor
                if table is decimal and text.endswith("b"):
                    value //= 8
                if value <= 0:
                    raise ValueError(f"max_shard_size must be positive; received {size!r}.")
                return value
    raise ValueError(
        f"max_shard_size {size!r} is not in a valid format. Use an integer number of bytes or an integer followed "
        "by a unit, e.g. '5GB', '100MB' or '512MiB'."
    )


def plan_shards(sizes: list[tuple[str, int]], max_shard_size: int) -> list[list[str]]:
    """Split `(name, nbytes)` pairs, in order, greedily into shards of at most `max_shard_size` bytes.

    A weight larger than the limit gets a shard of its own; no shard is empty.
    """
    shards: list[list[str]] = []
    current: list[str] = []
    current_size = 0
    for name, nbytes in sizes:
        if current and current_size + nbytes > max_shard_size:
            shards.append(current)
            current, current_size = [], 0
        current.append(name)
        current_size += nbytes
    if current:
        shards.append(current)
    return shards


def shard_file_name(weights_name: str, index: int, total: int) -> str:
    """`tf_model.h5`, 1, 3 -> `tf_model-00001-of-00003.h5`."""
    stem, ext = os.path.splitext(weights_name)
    return f"{stem}-{index:05d}-of-{total:05d}{ext}"


SHARD_PATTERN = re.compile(r"^(tf_model|model)-\d{5}-of-\d{5}\.(h5|safetensors)$")


def index_json(weight_map: dict[str, str], total_size: int) -> str:
    """The index file text, as the reference writes it."""
    index = {"metadata": {"total_size": total_size}, "weight_map": weight_map}
    return json.dumps(index, indent=2, sort_keys=True) + "\n"


def shard_names(index_path: str) -> tuple[list[str], dict[str, Any]]:
    """Read an index file; return its shard file names (sorted) and the parsed index.

    A shard must be a plain file name next to the index: `../x`, absolute paths and sub-directories are refused.
    """
    try:
        with open(index_path, encoding="utf-8") as handle:
            index = json.load(handle)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise CheckpointError(f"Checkpoint index {index_path} is not valid JSON: {err}") from None
    if not isinstance(index, dict) or not isinstance(index.get("weight_map"), dict):
        raise CheckpointError(f"Checkpoint index {index_path} has no 'weight_map' object; it cannot be loaded.")
    names = sorted(set(index["weight_map"].values()), key=str)
    for name in names:
        if not isinstance(name, str) or not name or os.path.isabs(name):
            raise CheckpointError(f"Checkpoint index {index_path} names an invalid shard {name!r}.")
        if name in (".", "..") or "/" in name or "\\" in name:
            raise CheckpointError(
                f"Checkpoint index {index_path} names shard {name!r}, which lies outside the checkpoint directory; "
                "refusing to read it."
            )
    return names, index


def read_index(index_path: str) -> tuple[list[str], dict[str, Any]]:
    """Read a local index file; return the shard paths (sorted) and the parsed index.

    Beyond `shard_names`' checks, a shard that is a symlink leading out of the directory is refused, and every
    shard must exist.
    """
    names, index = shard_names(index_path)
    directory = os.path.realpath(os.path.dirname(os.path.abspath(index_path)))
    shards = []
    for name in names:
        path = os.path.realpath(os.path.join(directory, name))
        if os.path.dirname(path) != directory:
            raise CheckpointError(
                f"Checkpoint index {index_path} names shard {name!r}, which lies outside the checkpoint directory; "
                "refusing to read it."
            )
        if not os.path.isfile(path):
            raise CheckpointError(
                f"Checkpoint index {index_path} names shard {name!r}, which does not exist in {directory}."
            )
        shards.append(path)
    return shards, index
