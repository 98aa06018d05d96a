"""`GenerationConfig`: the decoding settings of `generate()`, read from and written to `generation_config.json`."""

from __future__ import annotations

import copy
import json
import math
import os
from typing import Any

GENERATION_CONFIG_NAME = "generation_config.json"

# The reference's defaults; `to_diff_dict` writes only what differs from them.
_DEFAULTS: dict[str, Any] = {
    "max_length": 20,
    "max_new_tokens": None,
    "min_length": 0,
    "min_new_tokens": None,
    "early_stopping": False,
    "do_sample": False,
    "num_beams": 1,
    "temperature": 1.0,
    "top_k": 50,
    "top_p": 1.0,
    "repetition_penalty": 1.0,
    "length_penalty": 1.0,
    "no_repeat_ngram_size": 0,
    "bad_words_ids": None,
    "forced_bos_token_id": None,
    "forced_eos_token_id": None,
    "suppress_tokens": None,
    "begin_suppress_tokens": None,
    "num_return_sequences": 1,
    "output_scores": False,
    "return_dict_in_generate": False,
    "pad_token_id": None,
    "bos_token_id": None,
    "eos_token_id": None,
    "decoder_start_token_id": None,
    "use_cache": True,
    "pad_to_multiple_of": None,
}


class GenerationConfig:
    """Settings of `generate()`: strategy (greedy, sampling, beam search), lengths, special tokens and logits
    processors. Unknown keys are kept as attributes and written back.

    Example:
        >>> config = GenerationConfig(max_new_tokens=16, do_sample=True, top_k=10)
        >>> config.save_pretrained("out")
        >>> GenerationConfig.from_pretrained("out").top_k
        10
    """

    def __init__(self, **kwargs: Any) -> None:
        for key, default in _DEFAULTS.items():
            setattr(self, key, copy.deepcopy(kwargs.pop(key, default)))
        self.transformers_version = kwargs.pop("transformers_version", None)
        for key, value in kwargs.items():  # keys this library does not use survive a round trip
            setattr(self, key, value)
        self.validate()

    def validate(self) -> None:
        """Raise `ValueError` on settings that cannot work (checked again in `generate` after overrides)."""
        if not isinstance(self.num_beams, int) or self.num_beams < 1:
            raise ValueError(f"num_beams must be a positive integer; received {self.num_beams!r}.")
        if self.num_return_sequences > self.num_beams and not self.do_sample:
            raise ValueError(
                f"num_return_sequences ({self.num_return_sequences}) cannot exceed num_beams ({self.num_beams}) "
                "without sampling: raise num_beams or lower num_return_sequences."
            )
        if self.early_stopping not in (True, False, "never"):
            raise ValueError(f"early_stopping must be True, False or 'never'; received {self.early_stopping!r}.")
        if self.do_sample and self.temperature is not None and self.temperature <= 0:
            raise ValueError(f"temperature must be > 0 when sampling; received {self.temperature}.")
        if self.top_p is not None and not 0.0 <= self.top_p <= 1.0:
            raise ValueError(f"top_p must be in [0, 1]; received {self.top_p}.")
        if self.repetition_penalty is not None and self.repetition_penalty <= 0:
            raise ValueError(f"repetition_penalty must be > 0; received {self.repetition_penalty}.")
        if self.max_new_tokens is not None and self.max_new_tokens < 1:
            raise ValueError(f"max_new_tokens must be >= 1; received {self.max_new_tokens}.")
        if self.temperature is not None and not math.isfinite(self.temperature):
            raise ValueError(f"temperature must be a finite number; received {self.temperature}.")
        if self.top_p is not None and math.isnan(self.top_p):
            raise ValueError("top_p must be in [0, 1]; received nan.")
        counts = {"num_return_sequences": 1, "min_new_tokens": 0, "no_repeat_ngram_size": 0, "top_k": 0,
                  "max_length": 1, "min_length": 0, "pad_to_multiple_of": 1}
        for name, minimum in counts.items():
            value = getattr(self, name, None)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < minimum):
                raise ValueError(f"{name} must be an integer >= {minimum}; received {value!r}.")
        for token in self.eos_token_ids:
            if token < 0:
                raise ValueError(f"eos_token_id must hold token ids (>= 0); received {self.eos_token_id!r}.")

    @property
    def eos_token_ids(self) -> list[int]:
        """`eos_token_id` as a list (an int, a list, or none)."""
        if self.eos_token_id is None:
            return []
        return [int(self.eos_token_id)] if isinstance(self.eos_token_id, int) else [int(t) for t in self.eos_token_id]

    # ---- construction -------------------------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, config_dict: dict[str, Any], **kwargs: Any) -> "GenerationConfig":
        """Build from a dict; `kwargs` override its keys."""
        return cls(**{**config_dict, **kwargs})

    @classmethod
    def from_model_config(cls, model_config) -> "GenerationConfig":
        """The generation fields of a model config (`eos_token_id`, `max_length`, `num_beams`, ...), for
        checkpoints without a `generation_config.json`.

        Example:
            >>> GenerationConfig.from_model_config(GPT2Config()).eos_token_id
            50256
        """
        values = {}
        for key, default in _DEFAULTS.items():
            value = getattr(model_config, key, None)
            if value is not None and value != default:
                values[key] = value
        return cls(**values, _from_model_config=True)

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike, config_file_name: str = GENERATION_CONFIG_NAME,
                        **kwargs: Any) -> "GenerationConfig":
        """Read `directory/generation_config.json` (or a json file path); `kwargs` override its keys."""
        path = os.fspath(directory)
        if os.path.isdir(path):
            path = os.path.join(path, config_file_name)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"No {config_file_name} at {os.fspath(directory)!r}; save one with "
                                    "GenerationConfig.save_pretrained or build it with from_model_config.")
        with open(path, encoding="utf-8") as handle:
            try:
                data = json.load(handle)
            except json.JSONDecodeError as err:
                raise ValueError(f"{path} is not valid JSON: {err}") from None
        return cls.from_dict(data, **kwargs)

    def update(self, **kwargs: Any) -> dict[str, Any]:
        """Set the keys that are attributes; return the others (unused), as the reference does."""
        unused = {}
        for key, value in kwargs.items():
            if hasattr(self, key):
                setattr(self, key, value)
            else:
                unused[key] = value
        self.validate()
        return unused

    # ---- serialization ------------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Every attribute, as a plain dict."""
        return copy.deepcopy(dict(vars(self)))

    def to_diff_dict(self) -> dict[str, Any]:
        """Only the attributes that differ from the defaults (what `save_pretrained` writes)."""
        return {k: v for k, v in self.to_dict().items()
                if k not in _DEFAULTS or _DEFAULTS[k] != v}

    def to_json_string(self, use_diff: bool = True) -> str:
        """JSON text of `to_diff_dict()` (or `to_dict()`), keys sorted."""
        data = self.to_diff_dict() if use_diff else self.to_dict()
        if data.get("transformers_version") is None:
            data.pop("transformers_version", None)
        return json.dumps(data, indent=2, sort_keys=True) + "\n"

    def save_pretrained(self, save_directory: str | os.PathLike) -> None:
        """Write `save_directory/generation_config.json`."""
        from tfmodels.checkpoints.atomic import atomic_write_text

        os.makedirs(save_directory, exist_ok=True)
        atomic_write_text(os.path.join(os.fspath(save_directory), GENERATION_CONFIG_NAME), self.to_json_string())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, GenerationConfig) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"GenerationConfig {self.to_json_string()}"
