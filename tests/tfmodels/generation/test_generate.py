"""generate(): token-exact parity with the PyTorch reference (fixtures and transformers 5 on the same weights) for
every strategy and control, eager and compiled with XLA; sampling, padding, streamer and output structure."""

from __future__ import annotations

import io
import logging
import os

import numpy as np
import pytest
import tensorflow as tf
import torch

from tests.helpers import Case
from tests.tfmodels.generation.conftest import generation_cases
from tfmodels.generation import BaseStreamer, TextStreamer

EOS_LIST = {"eos_token_id": [78, 41]}  # tokens the fixture model emits early, so that rows finish at different steps
# Each control changes the baseline's tokens (asserted) and must change them as transformers does.
CONTROLS = [
    {"repetition_penalty": 1.5},
    {"no_repeat_ngram_size": 2},
    {"bad_words_ids": [[17], [78, 78]]},
    EOS_LIST,
    {"min_new_tokens": 5, **EOS_LIST},
    {"min_length": 11, **EOS_LIST},
    {"forced_eos_token_id": 5},
    {"suppress_tokens": [17, 78]},
    {"begin_suppress_tokens": [17, 78]},
    {"max_length": 10, "max_new_tokens": None},
    {"num_beams": 3, "num_return_sequences": 2},
    {"num_beams": 3, "length_penalty": 3.0, **EOS_LIST},
    {"num_beams": 3, "length_penalty": -2.0, **EOS_LIST},
    {"num_beams": 3, "early_stopping": True, **EOS_LIST},
    {"num_beams": 3, "early_stopping": "never", **EOS_LIST},
]


def _pt_generate(model, ids, mask, **kwargs):
    with torch.no_grad():
        return model.generate(torch.from_numpy(np.asarray(ids, np.int64)), do_sample=False, pad_token_id=98,
                              attention_mask=torch.from_numpy(np.asarray(mask, np.int64)), **kwargs)


def _reference_generation(name: str):
    case = Case(name)
    data = np.load(os.path.join(case.root, "io.npz"))
    return case, data, case.meta["generation"]


@pytest.mark.parametrize("name", generation_cases())
@pytest.mark.parametrize("mode", ["greedy", "beam"])
def test_fixture_generation_parity_eager(name, mode):
    case, data, settings = _reference_generation(name)
    model = case.model_class.from_pretrained(case.path("pt_safetensors"))
    out = model.generate(data["gen.input_ids"], attention_mask=data["gen.attention_mask"],
                         max_new_tokens=settings["max_new_tokens"], min_new_tokens=settings["min_new_tokens"],
                         **settings["modes"][mode])
    np.testing.assert_array_equal(out.numpy(), data[f"gen.pt.{mode}"])


@pytest.mark.slow
@pytest.mark.parametrize("name", generation_cases())
def test_fixture_generation_parity_compiled(name):
    """Greedy with `jit_compile=True` and a prompt bucket (pad_to_multiple_of does not change the tokens); beam
    search inside the user's own `tf.function(jit_compile=True)` (sequences come back at full length)."""
    case, data, settings = _reference_generation(name)
    model = case.model_class.from_pretrained(case.path("pt_safetensors"))
    lengths = {"max_new_tokens": settings["max_new_tokens"], "min_new_tokens": settings["min_new_tokens"]}
    ids, mask = data["gen.input_ids"], data["gen.attention_mask"]
    greedy = model.generate(ids, attention_mask=mask, jit_compile=True, pad_to_multiple_of=8, **lengths,
                            **settings["modes"]["greedy"])
    np.testing.assert_array_equal(greedy.numpy(), data["gen.pt.greedy"])

    @tf.function(jit_compile=True)
    def beam(input_ids, attention_mask):
        return model.generate(input_ids, attention_mask=attention_mask, **lengths, **settings["modes"]["beam"])

    np.testing.assert_array_equal(beam(tf.constant(ids), tf.constant(mask)).numpy(), data["gen.pt.beam"])


@pytest.mark.slow
def test_every_control_changes_tokens_as_transformers_does(gpt2_tf, gpt2_pt, prompts):
    ids, mask = prompts
    baseline = gpt2_tf.generate(ids, attention_mask=mask, max_new_tokens=8).numpy()
    np.testing.assert_array_equal(baseline, _pt_generate(gpt2_pt, ids, mask, max_new_tokens=8).numpy())
    for control in CONTROLS:
        kwargs = {"max_new_tokens": 8, **control}
        got = gpt2_tf.generate(ids, attention_mask=mask, **kwargs).numpy()
        expected = _pt_generate(gpt2_pt, ids, mask, **kwargs).numpy()
        assert got.shape == expected.shape, (control, got, expected)
        np.testing.assert_array_equal(got, expected, err_msg=str(control))
        assert got.shape != baseline.shape or (got != baseline).any(), f"{control} did not change the output"
    # forced_bos_token_id acts on the first generated token of a one-token prompt
    got = gpt2_tf.generate(np.array([[5]]), max_new_tokens=3, forced_bos_token_id=7).numpy()
    np.testing.assert_array_equal(got, _pt_generate(gpt2_pt, [[5]], [[1]], max_new_tokens=3,
                                                    forced_bos_token_id=7).numpy())
    assert got[0, 1] == 7


def test_beam_scores_and_finished_rows_match_transformers(gpt2_tf, gpt2_pt, prompts):
    ids, mask = prompts
    kwargs = {"max_new_tokens": 6, "num_beams": 3, "num_return_sequences": 2, "length_penalty": 0.5,
              "output_scores": True, "return_dict_in_generate": True, **EOS_LIST}
    got = gpt2_tf.generate(ids, attention_mask=mask, **kwargs)
    expected = _pt_generate(gpt2_pt, ids, mask, **kwargs)
    np.testing.assert_array_equal(got.sequences.numpy(), expected.sequences.numpy())
    np.testing.assert_allclose(got.sequences_scores.numpy(), expected.sequences_scores.numpy(), atol=1e-4)
    assert len(got.scores) == len(expected.scores)
    for ours, theirs in zip(got.scores, expected.scores):
        finite = np.isfinite(theirs.numpy())
        np.testing.assert_array_equal(np.isfinite(ours.numpy()), finite)
        np.testing.assert_allclose(ours.numpy()[finite], theirs.numpy()[finite], atol=1e-4)
    # greedy: a row that finished is padded with pad_token_id; the scores are the processed ones
    greedy = gpt2_tf.generate(ids, attention_mask=mask, max_new_tokens=6, output_scores=True,
                              return_dict_in_generate=True, **EOS_LIST)
    reference = _pt_generate(gpt2_pt, ids, mask, max_new_tokens=6, output_scores=True, return_dict_in_generate=True,
                             **EOS_LIST)
    np.testing.assert_array_equal(greedy.sequences.numpy(), reference.sequences.numpy())
    # row 1 ends with 78 one step before row 0 ends with 41: it is padded meanwhile, and generation stops early
    np.testing.assert_array_equal(greedy.sequences.numpy()[:, 6:], [[17, 41], [78, 98]])
    np.testing.assert_array_equal(greedy.sequence_lengths.numpy(), [8, 7])
    for ours, theirs in zip(greedy.scores, reference.scores, strict=True):
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), atol=1e-4)


def test_sampling_is_seed_reproducible_and_compiled_draws_the_same_tokens(gpt2_tf, prompts):
    ids, mask = prompts
    kwargs = {"max_new_tokens": 6, "do_sample": True, "top_k": 20, "temperature": 1.5, "num_return_sequences": 2}
    first = gpt2_tf.generate(ids, attention_mask=mask, seed=3, **kwargs).numpy()
    assert first.shape == (4, 12)
    np.testing.assert_array_equal(first, gpt2_tf.generate(ids, attention_mask=mask, seed=3, **kwargs).numpy())
    assert (first != gpt2_tf.generate(ids, attention_mask=mask, seed=4, **kwargs).numpy()).any()
    greedy = gpt2_tf.generate(ids, attention_mask=mask, max_new_tokens=6).numpy()
    assert (first[::2] != greedy).any()
    compiled = gpt2_tf.generate(ids, attention_mask=mask, seed=3, jit_compile=True, **kwargs).numpy()
    np.testing.assert_array_equal(compiled, first)


def test_right_padding_warns_and_left_padding_follows_the_mask(gpt2_tf, caplog):
    unpadded = gpt2_tf.generate(np.array([[46, 76, 9]]), max_new_tokens=4).numpy()
    padded = gpt2_tf.generate(np.array([[98, 98, 46, 76, 9]]), attention_mask=np.array([[0, 0, 1, 1, 1]]),
                              max_new_tokens=4).numpy()
    np.testing.assert_array_equal(padded[:, 2:], unpadded)  # position ids come from the mask
    with caplog.at_level(logging.WARNING, logger="tfmodels.generation.utils"):
        gpt2_tf.generate(np.array([[46, 76, 9, 98]]), attention_mask=np.array([[1, 1, 1, 0]]), max_new_tokens=2)
    assert "right-padded" in caplog.text and "padding_side='left'" in caplog.text


class _Recorder(BaseStreamer):
    def __init__(self):
        self.calls, self.ended = [], False

    def put(self, token_ids):
        self.calls.append(np.asarray(token_ids).tolist())

    def end(self):
        self.ended = True


def test_streamer_receives_the_prompt_then_each_token(gpt2_tf):
    recorder = _Recorder()
    out = gpt2_tf.generate(np.array([[46, 76, 9]]), max_new_tokens=4, streamer=recorder).numpy()
    assert recorder.calls == [[[46, 76, 9]]] + [[int(t)] for t in out[0, 3:]] and recorder.ended
    with pytest.raises(ValueError, match="streamer works in eager mode only"):
        gpt2_tf.generate(np.array([[46, 76, 9]]), max_new_tokens=2, streamer=recorder, jit_compile=True)


def test_text_streamer_prints_decoded_text():
    from tokenizers import Tokenizer, models, pre_tokenizers, decoders

    tokenizer = Tokenizer(models.WordLevel({"hello": 0, "big": 1, "world": 2, "[UNK]": 3}, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.decoder = decoders.WordPiece()  # joins words with spaces
    stream = io.StringIO()
    streamer = TextStreamer(tokenizer, skip_prompt=True, stream=stream)
    streamer.put(np.array([[0]]))  # the prompt, skipped
    streamer.put(np.array([1]))
    streamer.put(np.array([2]))
    assert stream.getvalue() == "big "
    streamer.end()
    assert stream.getvalue() == "big world\n"


@pytest.mark.parametrize(("batch", "how", "transposed"), [
    (1, "jit_compile", True), (2, "jit_compile", False), (1, "user_xla", True), (1, "user_graph", False)])
def test_compiled_decoding_steps_of_one_row_multiply_by_transposed_kernels(gpt2_tf, monkeypatch, batch, how,
                                                                             transposed):
    """`generate(jit_compile=True)` and `generate` inside the user's own `tf.function(jit_compile=True)` decode one
    row on transposed kernels; two rows, or a graph that XLA does not compile, use the variables."""
    from tfmodels.layers import core

    project, calls = core._project, []

    def record(x, kernel, transposed_kernel, *bias_and_activation):
        calls.append(transposed_kernel is not None)
        return project(x, kernel, transposed_kernel, *bias_and_activation)

    monkeypatch.setattr(core, "_project", record)
    ids = np.ones((batch, 3), np.int32)
    settings = {"max_new_tokens": 3, "min_new_tokens": 3, "pad_token_id": 0}
    if how == "jit_compile":
        compiled = gpt2_tf.generate(ids, jit_compile=True, **settings)
    else:
        compiled = tf.function(lambda prompts: gpt2_tf.generate(prompts, **settings),
                               jit_compile=how == "user_xla")(tf.constant(ids))
    layers = 4 * gpt2_tf.config.n_layer  # c_attn, attention c_proj, c_fc, mlp c_proj per block
    assert calls == [False] * layers + [transposed] * layers  # the prompt as is; the step (traced once)
    calls.clear()
    np.testing.assert_array_equal(compiled.numpy(), gpt2_tf.generate(ids, **settings).numpy())
    assert not any(calls)  # eager generation: the variables


def test_served_generate_traces_a_program_per_batch_size(gpt2_tf, monkeypatch):
    """`batch_sizes` get programs traced for their static row counts (as `generate(jit_compile=True)` traces them;
    XLA runs them faster than one traced for any count); other counts take the any-rows program. Each size has a
    warm-up record; all give eager generation's tokens."""
    cls, traced = type(gpt2_tf), []
    generate_tensors = cls._generate_tensors

    def record(self, input_ids, *args, **kwargs):
        traced.append(input_ids.shape[0])
        return generate_tensors(self, input_ids, *args, **kwargs)

    monkeypatch.setattr(cls, "_generate_tensors", record)
    settings = {"max_new_tokens": 3, "min_new_tokens": 3, "pad_token_id": 0, "pad_to_multiple_of": 4}
    generate = gpt2_tf.generation_serving_functions(**settings, batch_sizes=[2, 1])["generate"][0]
    for batch in (1, 2, 3):
        ids = np.arange(1, 1 + 4 * batch, dtype=np.int32).reshape(batch, 4)
        served = generate({"input_ids": ids, "attention_mask": np.ones_like(ids)})["sequences"]
        np.testing.assert_array_equal(served.numpy(), gpt2_tf.generate(ids, **settings).numpy())
    assert traced[:3] == [2, 1, None]  # on the first call, each branch once; eager generation after that
    assert [w["input_ids"].shape for w in generate.warmup_inputs] == [(2, 4), (1, 4)]


@pytest.mark.parametrize("batch_sizes", [[0], [2, 2], "8", [True], [1.5]])
def test_served_generate_refuses_bad_batch_sizes(gpt2_tf, batch_sizes):
    with pytest.raises(ValueError, match=r"batch_sizes must be a list of distinct positive integers.*received"):
        gpt2_tf.generation_serving_functions(max_new_tokens=3, batch_sizes=batch_sizes)


def test_served_generate_traces_a_one_row_program_on_transposed_kernels(gpt2_tf, monkeypatch):
    """The exported `generate` holds two XLA programs: one row (static row count 1, on transposed kernels, traced
    first) and any rows (on the variables); both give eager generation's tokens."""
    from tfmodels.layers import core

    project, calls = core._project, []

    def record(x, kernel, transposed_kernel, *bias_and_activation):
        calls.append(transposed_kernel is not None)
        return project(x, kernel, transposed_kernel, *bias_and_activation)

    monkeypatch.setattr(core, "_project", record)
    settings = {"max_new_tokens": 3, "min_new_tokens": 3, "pad_token_id": 0, "pad_to_multiple_of": 4}
    generate = gpt2_tf.generation_serving_functions(**settings)["generate"][0]
    for batch in (1, 2):
        ids = np.arange(1, 1 + 4 * batch, dtype=np.int32).reshape(batch, 4)
        served = generate({"input_ids": ids, "attention_mask": np.ones_like(ids)})["sequences"]
        np.testing.assert_array_equal(served.numpy(), gpt2_tf.generate(ids, **settings).numpy())
    layers = 4 * gpt2_tf.config.n_layer
    assert calls[:4 * layers] == [False] * layers + [True] * layers + [False] * 2 * layers  # traced once
