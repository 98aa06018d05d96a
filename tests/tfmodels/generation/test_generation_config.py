"""GenerationConfig: generation_config.json round trips, the model config fallback, overrides, save/from_pretrained."""

from __future__ import annotations

import json
import os

import pytest

from tfmodels import GPT2Config, TFGPT2LMHeadModel
from tfmodels.generation import GENERATION_CONFIG_NAME, GenerationConfig


def test_round_trip_keeps_unknown_keys_and_writes_only_differences(tmp_path):
    config = GenerationConfig(max_new_tokens=12, num_beams=4, eos_token_id=[3, 7], my_custom_key={"a": 1})
    config.save_pretrained(tmp_path)
    written = json.loads((tmp_path / GENERATION_CONFIG_NAME).read_text())
    assert written == {"max_new_tokens": 12, "num_beams": 4, "eos_token_id": [3, 7], "my_custom_key": {"a": 1}}
    loaded = GenerationConfig.from_pretrained(tmp_path, top_k=5)
    assert loaded.my_custom_key == {"a": 1} and loaded.num_beams == 4 and loaded.top_k == 5
    assert loaded.eos_token_ids == [3, 7] and loaded.max_length == 20


def test_from_model_config_takes_generation_fields():
    config = GenerationConfig.from_model_config(GPT2Config(n_layer=1, eos_token_id=5, bos_token_id=4, num_beams=3))
    assert (config.eos_token_id, config.bos_token_id, config.num_beams, config.pad_token_id) == (5, 4, 3, None)


def test_invalid_settings_raise_with_the_value():
    with pytest.raises(ValueError, match="num_return_sequences \\(3\\) cannot exceed num_beams \\(2\\)"):
        GenerationConfig(num_beams=2, num_return_sequences=3)
    with pytest.raises(ValueError, match="top_p must be in \\[0, 1\\]; received 1.5"):
        GenerationConfig(top_p=1.5)


def test_save_and_from_pretrained_carry_the_generation_config(tmp_path, gpt2_case):
    model = TFGPT2LMHeadModel.from_pretrained(gpt2_case.path("pt_safetensors"))
    # the fixture's generation_config.json (written by the reference) was read, unknown keys included
    assert model.generation_config.pad_token_id == 98 and model.generation_config._from_model_config is True
    model.generation_config.max_new_tokens = 5
    model.generation_config.extra_field = "kept"
    model.save_pretrained(tmp_path)
    assert json.loads((tmp_path / GENERATION_CONFIG_NAME).read_text())["extra_field"] == "kept"
    reloaded = TFGPT2LMHeadModel.from_pretrained(tmp_path)
    assert reloaded.generation_config.max_new_tokens == 5 and reloaded.generation_config.extra_field == "kept"
    os.remove(tmp_path / GENERATION_CONFIG_NAME)  # absent: built from the model config
    fallback = TFGPT2LMHeadModel.from_pretrained(tmp_path).generation_config
    assert fallback.max_new_tokens is None and fallback.eos_token_id == 98


def test_generate_rejects_unknown_arguments_and_models_that_cannot_generate(gpt2_tf, prompts):
    with pytest.raises(TypeError, match="unknown arguments \\['max_tokens'\\]"):
        gpt2_tf.generate(prompts[0], max_tokens=3)
    with pytest.raises(ValueError, match="max_length \\(5\\) leaves no room after the prompt of length 6"):
        gpt2_tf.generate(prompts[0], max_length=5)
    from tfmodels import TFGPT2Model

    with pytest.raises(TypeError, match="TFGPT2Model cannot generate"):
        TFGPT2Model(GPT2Config(n_layer=1, n_embd=8, n_head=2, vocab_size=11)).generate(prompts[0])
