"""Every logits processor gives the processed scores of transformers' (PyTorch) processor on the same inputs, and a
sampling chain on the reference GPT-2's own logits gives the same distribution after each processor."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import torch
from transformers import generation as pt

from tfmodels.generation import logits_process as ours

VOCAB, ROWS, CUR_LEN, BUFFER = 99, 4, 7, 12


def _inputs(seed: int = 0):
    rng = np.random.default_rng(seed)
    ids = rng.integers(0, 6, size=(ROWS, BUFFER)).astype(np.int32)  # few distinct tokens: repeats and n-grams
    ids[1, 4:CUR_LEN] = ids[1, 1:4]  # row 1 ends with a trigram it already holds
    ids[2, CUR_LEN - 1] = 3  # row 2 ends with the prefix [3] of a bad word [3, 4]
    scores = rng.normal(size=(ROWS, VOCAB)).astype(np.float32) * 3
    return ids, scores


CASES = [
    ("temperature", ours.TemperatureLogitsWarper(0.7), pt.TemperatureLogitsWarper(0.7), CUR_LEN),
    ("top_k", ours.TopKLogitsWarper(5), pt.TopKLogitsWarper(5), CUR_LEN),
    ("top_p", ours.TopPLogitsWarper(0.8), pt.TopPLogitsWarper(0.8), CUR_LEN),
    ("top_p_keep_2", ours.TopPLogitsWarper(0.05, min_tokens_to_keep=2),
     pt.TopPLogitsWarper(0.05, min_tokens_to_keep=2), CUR_LEN),
    ("repetition", ours.RepetitionPenaltyLogitsProcessor(1.3), pt.RepetitionPenaltyLogitsProcessor(1.3), CUR_LEN),
    ("repetition_ignoring_padding", ours.RepetitionPenaltyLogitsProcessor(2.0, tf.constant([0, 2, 3, 0])),
     pt.RepetitionPenaltyLogitsProcessor(2.0, prompt_ignore_length=torch.tensor([0, 2, 3, 0])), CUR_LEN),
    ("no_repeat_ngram_2", ours.NoRepeatNGramLogitsProcessor(2), pt.NoRepeatNGramLogitsProcessor(2), CUR_LEN),
    ("no_repeat_ngram_4", ours.NoRepeatNGramLogitsProcessor(4), pt.NoRepeatNGramLogitsProcessor(4), CUR_LEN),
    ("bad_words", ours.NoBadWordsLogitsProcessor([[5], [3, 4], [98], [1, 2, 0]], 98),
     pt.NoBadWordsLogitsProcessor([[5], [3, 4], [98], [1, 2, 0]], 98), CUR_LEN),
    ("min_length_active", ours.MinLengthLogitsProcessor(10, [98, 1]), pt.MinLengthLogitsProcessor(10, [98, 1]),
     CUR_LEN),
    ("min_length_done", ours.MinLengthLogitsProcessor(7, 98), pt.MinLengthLogitsProcessor(7, 98), CUR_LEN),
    ("min_new_tokens", ours.MinNewTokensLengthLogitsProcessor(5, 3, 98),
     pt.MinNewTokensLengthLogitsProcessor(5, 3, 98), CUR_LEN),
    ("forced_bos", ours.ForcedBOSTokenLogitsProcessor(3), pt.ForcedBOSTokenLogitsProcessor(3), 1),
    ("forced_bos_later", ours.ForcedBOSTokenLogitsProcessor(3), pt.ForcedBOSTokenLogitsProcessor(3), CUR_LEN),
    ("forced_eos", ours.ForcedEOSTokenLogitsProcessor(8, [98, 2]), pt.ForcedEOSTokenLogitsProcessor(8, [98, 2]),
     CUR_LEN),
    ("suppress", ours.SuppressTokensLogitsProcessor([1, 2]), pt.SuppressTokensLogitsProcessor([1, 2]), CUR_LEN),
    ("begin_suppress", ours.SuppressTokensAtBeginLogitsProcessor([1, 2], CUR_LEN),
     pt.SuppressTokensAtBeginLogitsProcessor([1, 2], CUR_LEN), CUR_LEN),
]


@pytest.mark.parametrize("name,processor,reference,cur_len", CASES, ids=[c[0] for c in CASES])
def test_processor_matches_transformers(name, processor, reference, cur_len):
    ids, scores = _inputs()
    expected = reference(torch.from_numpy(ids[:, :cur_len].astype(np.int64)), torch.from_numpy(scores.copy()))
    # positions past cur_len hold junk: our processors must ignore them (static buffers)
    got = processor(tf.constant(ids), tf.constant(scores), tf.constant(cur_len))
    np.testing.assert_allclose(got.numpy(), expected.numpy(), rtol=1e-6, atol=1e-6, err_msg=name)
    assert not np.array_equal(expected.numpy(), scores) or name in ("forced_bos_later", "min_length_done")


def test_sampling_chain_on_model_logits_gives_the_reference_distribution(gpt2_tf, gpt2_pt, prompts):
    """Temperature, top-k and top-p after repetition penalty, on each framework's own next-token logits."""
    ids, mask = prompts
    tf_logits = gpt2_tf(input_ids=ids, attention_mask=mask).logits[:, -1].numpy()
    with torch.no_grad():
        pt_logits = gpt2_pt(input_ids=torch.from_numpy(ids.astype(np.int64)),
                            attention_mask=torch.from_numpy(mask.astype(np.int64))).logits[:, -1]
    chain = [
        (ours.RepetitionPenaltyLogitsProcessor(1.2), pt.RepetitionPenaltyLogitsProcessor(1.2)),
        (ours.TemperatureLogitsWarper(0.6), pt.TemperatureLogitsWarper(0.6)),
        (ours.TopKLogitsWarper(20), pt.TopKLogitsWarper(20)),
        (ours.TopPLogitsWarper(0.7), pt.TopPLogitsWarper(0.7)),
    ]
    ours_scores, pt_scores = tf.constant(tf_logits), pt_logits
    pt_ids = torch.from_numpy(ids.astype(np.int64))
    for processor, reference in chain:
        ours_scores = processor(tf.constant(ids), ours_scores, ids.shape[1])
        pt_scores = reference(pt_ids, pt_scores)
        name = type(processor).__name__
        np.testing.assert_array_equal(np.isinf(ours_scores.numpy()), np.isinf(pt_scores.numpy()), err_msg=name)
        np.testing.assert_allclose(tf.nn.softmax(ours_scores).numpy(), torch.softmax(pt_scores, -1).numpy(),
                                   atol=1e-5, err_msg=name)
    kept = np.isfinite(ours_scores.numpy()).sum(axis=-1)
    assert (kept >= 1).all() and (kept < 20).all()  # the chain really filtered


def test_bad_words_outside_the_vocabulary_are_an_error():
    ids, scores = _inputs()
    with pytest.raises(ValueError, match="token ids \\[120\\] outside the vocabulary \\(size 99\\)"):
        ours.NoBadWordsLogitsProcessor([[120]])(tf.constant(ids), tf.constant(scores), CUR_LEN)
