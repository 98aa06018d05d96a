"""Streamers: objects with `put(token_ids)` and `end()` that `generate(streamer=...)` feeds as tokens come."""

from __future__ import annotations

import sys
from typing import Any, TextIO

import numpy as np


class BaseStreamer:
    """Interface of a streamer: `put` receives the prompt first, then each step's new tokens (`[batch]`), and
    `end` is called once generation finishes."""

    def put(self, token_ids: Any) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement put(token_ids).")

    def end(self) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement end().")


class TextStreamer(BaseStreamer):
    """Print the text of a batch of one as it is generated, decoded with a `tokenizers.Tokenizer`.

    The prompt is skipped with `skip_prompt=True`. Text is printed once it no longer changes (a word may span
    several tokens); `end()` flushes the rest and a newline.

    Example:
        >>> from tokenizers import Tokenizer
        >>> model.generate(ids, max_new_tokens=20, streamer=TextStreamer(Tokenizer.from_file("tokenizer.json")))
    """

    def __init__(self, tokenizer, skip_prompt: bool = False, skip_special_tokens: bool = True,
                 stream: TextIO | None = None) -> None:
        self.tokenizer = tokenizer
        self.skip_prompt = skip_prompt
        self.skip_special_tokens = skip_special_tokens
        self.stream = stream
        self._tokens: list[int] = []
        self._printed = 0
        self._next_is_prompt = True

    def put(self, token_ids: Any) -> None:
        ids = np.asarray(token_ids)
        if ids.ndim > 1:
            if ids.shape[0] > 1:
                raise ValueError(f"TextStreamer prints a batch of one; received token ids of shape {ids.shape}.")
            ids = ids[0]
        if self.skip_prompt and self._next_is_prompt:
            self._next_is_prompt = False
            return
        self._next_is_prompt = False
        self._tokens.extend(int(t) for t in np.atleast_1d(ids))
        text = self.tokenizer.decode(self._tokens, skip_special_tokens=self.skip_special_tokens)
        if text.endswith("\ufffd"):  # an incomplete multi-byte character: wait for the next token
            return
        # print up to the last space: the last word may still grow
        stable = text[: text.rfind(" ") + 1] if not text.endswith("\n") else text
        self._emit(stable[self._printed:])
        self._printed = max(self._printed, len(stable))

    def end(self) -> None:
        text = self.tokenizer.decode(self._tokens, skip_special_tokens=self.skip_special_tokens)
        self._emit(text[self._printed:] + "\n")
        self._tokens, self._printed, self._next_is_prompt = [], 0, True

    def _emit(self, text: str) -> None:
        if text:
            stream = self.stream or sys.stdout
            stream.write(text)
            stream.flush()
