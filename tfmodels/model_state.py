"""`ModelState`: what a model keeps between calls besides its weights, in one object (`model.runtime_state`).

Example:
    >>> model.runtime_state.compiled_generate  # {} until generate(jit_compile=True) runs
    {}
    >>> model.runtime_state.reset()  # after the variables change: compiled functions retrace
"""

from __future__ import annotations

from typing import Any


class ModelState:
    """A model's state besides its weights and config:

    - `generation_config`: the default `GenerationConfig` (None until read or set);
    - `compiled_generate`: `generate(jit_compile=True)`'s XLA functions, by generation setting;
    - `generation_forward`: the graph eager `generate` runs for each model pass;
    - `lora`: LoRA's bookkeeping (`tfmodels.lora`), None without adapters;
    - `preprocessor`: what prepares the model's inputs, read from `preprocessor_config.json` (an image model's
      `ImageProcessor`, Whisper's `WhisperFeatureExtractor`), None until read or set.

    `reset()` drops the compiled functions, which captured the variables of the moment (LoRA, gradient
    checkpointing and merging change them); the next call retraces.
    """

    def __init__(self) -> None:
        self.generation_config = None
        self.compiled_generate: dict[tuple, Any] = {}
        self.generation_forward = None
        self.lora = None
        self.preprocessor = None

    def reset(self) -> None:
        """Forget the compiled functions (the generation config and LoRA's bookkeeping stay)."""
        self.compiled_generate = {}
        self.generation_forward = None
