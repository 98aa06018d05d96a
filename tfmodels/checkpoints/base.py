"""What every format reader returns."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable

import numpy as np

from tfmodels.errors import CheckpointError

FORMAT_TF = "tf"  # keys are TF names without the model-name scope and `:0`
FORMAT_PT = "pt"  # keys are PyTorch state-dict keys


@dataclasses.dataclass
class LazyArray:
    """A tensor in a checkpoint whose data is read only when `load()` is called."""

    shape: tuple[int, ...]
    dtype: np.dtype
    load: Callable[[], np.ndarray]
    load_rows: Callable[..., np.ndarray] | None = None  # `[start, stop)` along the first axis, if the format can
    # read part of a tensor: the loader then writes a large weight in slices, never holding it whole. A reader's
    # also takes `out=`, an array of those rows' shape and dtype to read into (the loader reuses one for every slice)


@dataclasses.dataclass
class WeightFile:
    """The tensors of one checkpoint file (one shard), keyed in the `names` convention (`"tf"` or `"pt"`)."""

    path: str
    names: str
    tensors: dict[str, LazyArray]
    close: Callable[[], None] = lambda: None


LFS_POINTER_PREFIX = b"version https://git-lfs"


def check_weight_file(path: str) -> None:
    """Refuse, with a clear message, the two commonest non-checkpoints: an empty file and a git-lfs pointer."""
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as handle:
            head = handle.read(len(LFS_POINTER_PREFIX))
    except OSError as err:
        raise CheckpointError(f"Cannot read {path}: {err}") from None
    if size == 0:
        raise CheckpointError(f"{path} is empty (0 bytes): the download or save that wrote it did not finish.")
    if head == LFS_POINTER_PREFIX:
        raise CheckpointError(
            f"{path} is a git-lfs pointer file, not the weights: the repository was cloned without git-lfs. Run "
            "`git lfs install && git lfs pull` in the clone, or download the files with huggingface_hub."
        )
