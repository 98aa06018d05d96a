"""What every format reader returns."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

FORMAT_TF = "tf"  # keys are TF names without the model-name scope and `:0`
FORMAT_PT = "pt"  # keys are PyTorch state-dict keys


@dataclasses.dataclass
class LazyArray:
    """A tensor in a checkpoint whose data is read only when `load()` is called."""

    shape: tuple[int, ...]
    dtype: np.dtype
    load: Callable[[], np.ndarray]


@dataclasses.dataclass
class WeightFile:
    """The tensors of one checkpoint file (one shard), keyed in the `names` convention (`"tf"` or `"pt"`)."""

    path: str
    names: str
    tensors: dict[str, LazyArray]
    close: Callable[[], None] = lambda: None
