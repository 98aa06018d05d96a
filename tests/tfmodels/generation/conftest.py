"""Shared fixtures of the generation tests: the reference GPT-2 LM in TensorFlow and in PyTorch (same weights)."""

from __future__ import annotations

import os

import numpy as np
import pytest

from tests.helpers import CASES, Case


def generation_cases() -> list[str]:
    """Every fixture case with generation references whose model class can generate from token ids (Whisper,
    generating from audio features, has its own in `test_whisper.py`)."""
    return [name for name in CASES
            if "generation" in Case(name).meta
            and Case(name).model_class.can_generate() and Case(name).model_class.main_input_name == "input_ids"]


@pytest.fixture(scope="session")
def gpt2_case() -> Case:
    return Case("gpt2_lm")


@pytest.fixture(scope="session")
def gpt2_tf(gpt2_case):
    from tfmodels import TFGPT2LMHeadModel

    return TFGPT2LMHeadModel.from_pretrained(gpt2_case.path("pt_safetensors"))


@pytest.fixture(scope="session")
def gpt2_pt(gpt2_case):
    from transformers import GPT2LMHeadModel

    return GPT2LMHeadModel.from_pretrained(gpt2_case.path("pt_safetensors")).eval()


@pytest.fixture(scope="session")
def prompts(gpt2_case) -> tuple[np.ndarray, np.ndarray]:
    io = np.load(os.path.join(gpt2_case.root, "io.npz"))
    return io["gen.input_ids"], io["gen.attention_mask"]
