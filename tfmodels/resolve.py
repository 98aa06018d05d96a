"""Which checkpoint files a directory offers, in the reference's order. The one place that decides it."""

from __future__ import annotations

import dataclasses
import os

from tfmodels.checkpoints.sharding import read_index
from tfmodels.errors import CheckpointError

TF2_WEIGHTS_NAME = "tf_model.h5"
TF2_WEIGHTS_INDEX_NAME = "tf_model.h5.index.json"
SAFE_WEIGHTS_NAME = "model.safetensors"
SAFE_WEIGHTS_INDEX_NAME = "model.safetensors.index.json"
WEIGHTS_NAME = "pytorch_model.bin"
WEIGHTS_INDEX_NAME = "pytorch_model.bin.index.json"

KIND_H5 = "h5"
KIND_SAFETENSORS = "safetensors"
KIND_PT_BIN = "pytorch_bin"


@dataclasses.dataclass
class ResolvedCheckpoint:
    """The files to read: `kind` (h5, safetensors or pytorch_bin), the weight files in order, and the index
    file when sharded."""

    kind: str
    files: list[str]
    index_file: str | None = None

    @property
    def is_sharded(self) -> bool:
        return self.index_file is not None


def _kind_of_file(path: str) -> str:
    if path.endswith(".safetensors"):
        return KIND_SAFETENSORS
    if path.endswith(".bin") or path.endswith(".pt") or path.endswith(".pth"):
        return KIND_PT_BIN
    return KIND_H5


def weight_candidates(from_pt: bool = False, use_safetensors: bool | None = None) -> list[tuple[str, str, bool]]:
    """`(file name, kind, sharded)` in the order they are looked for, for directories and Hub repos alike.

    With `from_pt`, `pytorch_model.bin` then its index; then (unless `use_safetensors=False`) `model.safetensors`
    then its index; then `tf_model.h5` then its index; last, PyTorch `.bin` weights even without `from_pt` (they
    are read safely, without torch).
    """
    candidates: list[tuple[str, str, bool]] = []
    if from_pt:
        candidates += [(WEIGHTS_NAME, KIND_PT_BIN, False), (WEIGHTS_INDEX_NAME, KIND_PT_BIN, True)]
    if use_safetensors is not False:
        candidates += [(SAFE_WEIGHTS_NAME, KIND_SAFETENSORS, False), (SAFE_WEIGHTS_INDEX_NAME, KIND_SAFETENSORS, True)]
    candidates += [(TF2_WEIGHTS_NAME, KIND_H5, False), (TF2_WEIGHTS_INDEX_NAME, KIND_H5, True)]
    if not from_pt and use_safetensors is not True:
        candidates += [(WEIGHTS_NAME, KIND_PT_BIN, False), (WEIGHTS_INDEX_NAME, KIND_PT_BIN, True)]
    return candidates


def resolve_local(path: str, from_pt: bool = False, use_safetensors: bool | None = None) -> ResolvedCheckpoint:
    """Find the weights in a local directory (or take a weights/index file given directly), in the order of
    `weight_candidates`."""
    path = os.fspath(path)
    if os.path.isfile(path):
        if path.endswith(".index.json"):
            files, _ = read_index(path)
            return ResolvedCheckpoint(_kind_of_file(files[0]) if files else KIND_H5, files, path)
        return ResolvedCheckpoint(_kind_of_file(path), [path])
    if not os.path.isdir(path):
        raise CheckpointError(
            f"{path!r} is neither a directory nor a file. Pass a directory written by save_pretrained (holding "
            "config.json and the weights), the path of a weights file, or a Hub repo id such as 'org/name'."
        )
    candidates = weight_candidates(from_pt, use_safetensors)
    for name, kind, sharded in candidates:
        file = os.path.join(path, name)
        if os.path.isfile(file):
            if sharded:
                files, _ = read_index(file)
                return ResolvedCheckpoint(kind, files, file)
            return ResolvedCheckpoint(kind, [file])
    looked_for = ", ".join(name for name, _, _ in candidates)
    found = sorted(os.listdir(path))
    hint = ""
    if use_safetensors is True:
        hint = " use_safetensors=True was given: save with safe_serialization=True or drop that argument."
    raise CheckpointError(
        f"No model weights found in directory {path}. Looked for: {looked_for}. The directory holds: "
        f"{found[:20] if found else 'nothing'}{' ...' if len(found) > 20 else ''}.{hint}"
    )
