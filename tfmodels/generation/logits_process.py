"""Logits processors, as the reference's, written for static shapes so that they run eagerly and under XLA.

Every processor is called as `processor(input_ids, scores, cur_len)`: `input_ids` is the `[rows, max_length]`
buffer of the sequences (positions from `cur_len` on are not generated yet), `scores` the `[rows, vocab]` next-token
scores and `cur_len` the number of filled positions (a Python int or a scalar int32 tensor).

Example:
    >>> processors = LogitsProcessorList([TemperatureLogitsWarper(0.7), TopKLogitsWarper(10)])
    >>> scores = processors(sequences, next_token_logits, cur_len)
"""

from __future__ import annotations

import tensorflow as tf

NEG_INF = float("-inf")


def _as_ids(token_ids) -> list[int]:
    if token_ids is None:
        return []
    return [int(token_ids)] if isinstance(token_ids, int) else [int(t) for t in token_ids]


def _token_mask(token_ids: list[int], vocab_size) -> tf.Tensor:
    """`[vocab]` boolean mask of `token_ids`."""
    return tf.reduce_any(tf.range(vocab_size)[:, None] == tf.constant(token_ids, tf.int32)[None, :], axis=-1)


def _scatter_rows(values: tf.Tensor, token_ids: tf.Tensor, keep: tf.Tensor, vocab_size) -> tf.Tensor:
    """`[rows, vocab]` tensor with `values[r, i]` at column `token_ids[r, i]` where `keep[r, i]`, zeros elsewhere.
    Positions not kept go to an extra column, dropped at the end (static shapes, no duplicates conflict)."""
    rows = tf.shape(token_ids)[0]
    columns = tf.where(keep, token_ids, vocab_size)
    indices = tf.stack([tf.broadcast_to(tf.range(rows)[:, None], tf.shape(columns)), columns], axis=-1)
    scattered = tf.tensor_scatter_nd_update(tf.zeros([rows, vocab_size + 1], values.dtype), indices, values)
    return scattered[:, :vocab_size]


class LogitsProcessor:
    """Base class: `__call__(input_ids, scores, cur_len)` returns the processed `[rows, vocab]` scores."""

    def __call__(self, input_ids: tf.Tensor, scores: tf.Tensor, cur_len) -> tf.Tensor:
        raise NotImplementedError(f"{type(self).__name__} must implement __call__(input_ids, scores, cur_len).")


class LogitsProcessorList(list):
    """Processors applied in order."""

    def __call__(self, input_ids: tf.Tensor, scores: tf.Tensor, cur_len) -> tf.Tensor:
        for processor in self:
            scores = processor(input_ids, scores, cur_len)
        return scores


class TemperatureLogitsWarper(LogitsProcessor):
    """Divide the scores by `temperature` (> 0)."""

    def __init__(self, temperature: float):
        if not isinstance(temperature, (int, float)) or temperature <= 0:
            raise ValueError(f"temperature must be a positive float; received {temperature!r}.")
        self.temperature = float(temperature)

    def __call__(self, input_ids, scores, cur_len):
        return scores / self.temperature


class TopKLogitsWarper(LogitsProcessor):
    """Keep the `top_k` highest scores (ties with the k-th included), -inf elsewhere."""

    def __init__(self, top_k: int, min_tokens_to_keep: int = 1):
        if not isinstance(top_k, int) or top_k <= 0:
            raise ValueError(f"top_k must be a positive integer; received {top_k!r}.")
        self.top_k = max(top_k, min_tokens_to_keep)

    def __call__(self, input_ids, scores, cur_len):
        top_k = min(self.top_k, scores.shape[-1])
        threshold = tf.math.top_k(scores, k=top_k).values[:, -1:]
        return tf.where(scores < threshold, tf.cast(NEG_INF, scores.dtype), scores)


class TopPLogitsWarper(LogitsProcessor):
    """Nucleus filtering: keep the smallest set of tokens whose probability reaches `top_p`."""

    def __init__(self, top_p: float, min_tokens_to_keep: int = 1):
        if not 0.0 <= float(top_p) <= 1.0:
            raise ValueError(f"top_p must be in [0, 1]; received {top_p!r}.")
        self.top_p = float(top_p)
        self.min_tokens_to_keep = min_tokens_to_keep

    def __call__(self, input_ids, scores, cur_len):
        order = tf.argsort(scores, axis=-1, direction="ASCENDING")
        sorted_scores = tf.gather(scores, order, batch_dims=1)
        cumulative = tf.cumsum(tf.nn.softmax(sorted_scores, axis=-1), axis=-1)
        remove_sorted = cumulative <= (1.0 - self.top_p)
        vocab = scores.shape[-1]
        keep_last = tf.range(vocab) >= vocab - self.min_tokens_to_keep
        remove_sorted = remove_sorted & ~keep_last[None, :]
        remove = tf.gather(remove_sorted, tf.argsort(order, axis=-1), batch_dims=1)
        return tf.where(remove, tf.cast(NEG_INF, scores.dtype), scores)


class RepetitionPenaltyLogitsProcessor(LogitsProcessor):
    """Scores of tokens already in the sequence: divided by `penalty` if positive, multiplied if negative.
    `prompt_ignore_length` (`[rows]`, e.g. the left-padding length) leaves the first positions out."""

    def __init__(self, penalty: float, prompt_ignore_length: tf.Tensor | None = None):
        if not isinstance(penalty, (int, float)) or penalty <= 0:
            raise ValueError(f"repetition_penalty must be a positive float; received {penalty!r}.")
        self.penalty = float(penalty)
        self.prompt_ignore_length = prompt_ignore_length

    def __call__(self, input_ids, scores, cur_len):
        positions = tf.range(tf.shape(input_ids)[1])[None, :]
        keep = positions < cur_len
        if self.prompt_ignore_length is not None:
            keep = keep & (positions >= tf.cast(self.prompt_ignore_length, tf.int32)[:, None])
        keep = tf.broadcast_to(keep, tf.shape(input_ids))
        seen = _scatter_rows(tf.ones(tf.shape(input_ids), tf.bool), input_ids, keep, scores.shape[-1])
        penalized = tf.where(scores < 0, scores * self.penalty, scores / self.penalty)
        return tf.where(seen, penalized, scores)


class NoRepeatNGramLogitsProcessor(LogitsProcessor):
    """Forbid tokens that would repeat an n-gram of size `ngram_size` already in the sequence."""

    def __init__(self, ngram_size: int):
        if not isinstance(ngram_size, int) or ngram_size <= 0:
            raise ValueError(f"no_repeat_ngram_size must be a positive integer; received {ngram_size!r}.")
        self.ngram_size = ngram_size

    def __call__(self, input_ids, scores, cur_len):
        n = self.ngram_size
        starts = tf.range(tf.shape(input_ids)[1])
        # shifted[k][:, i] = input_ids[:, i + k] (zero past the end; such starts are invalid anyway)
        shifted = [tf.pad(input_ids[:, k:], [[0, 0], [0, k]]) for k in range(n)]
        last = tf.maximum(cur_len - (n - 1), 0)
        match = tf.broadcast_to((starts <= cur_len - n)[None, :], tf.shape(input_ids))
        for k in range(n - 1):
            current = tf.gather(input_ids, last + k, axis=1)[:, None]
            match = match & tf.equal(shifted[k], current)
        banned = _scatter_rows(tf.ones(tf.shape(input_ids), tf.bool), shifted[n - 1], match, scores.shape[-1])
        return tf.where(banned, tf.cast(NEG_INF, scores.dtype), scores)


class NoBadWordsLogitsProcessor(LogitsProcessor):
    """Forbid the token sequences in `bad_words_ids` (a single token always; a longer one when the sequence ends
    with its prefix). Single-token entries equal to an eos token are dropped, as in the reference."""

    def __init__(self, bad_words_ids: list[list[int]], eos_token_id=None):
        if not isinstance(bad_words_ids, (list, tuple)) or not bad_words_ids or any(
            not isinstance(seq, (list, tuple)) or not seq or any(not isinstance(t, int) or t < 0 for t in seq)
            for seq in bad_words_ids
        ):
            raise ValueError(f"bad_words_ids must be a non-empty list of non-empty lists of token ids; received "
                             f"{bad_words_ids!r}.")
        eos = _as_ids(eos_token_id)
        self.sequences = [list(seq) for seq in bad_words_ids if not (len(seq) == 1 and seq[0] in eos)]

    def __call__(self, input_ids, scores, cur_len):
        vocab = scores.shape[-1]
        too_large = [t for seq in self.sequences for t in seq if t >= vocab]
        if too_large:
            raise ValueError(f"bad_words_ids holds token ids {too_large} outside the vocabulary (size {vocab}).")
        banned = tf.zeros(tf.shape(scores), tf.bool)
        singles = [seq[0] for seq in self.sequences if len(seq) == 1]
        if singles:
            banned = banned | _token_mask(singles, vocab)[None, :]
        for seq in self.sequences:
            if len(seq) == 1:
                continue
            prefix = seq[:-1]
            positions = cur_len - len(prefix) + tf.range(len(prefix))
            context = tf.gather(input_ids, tf.maximum(positions, 0), axis=1)
            matches = tf.reduce_all(tf.equal(context, tf.constant(prefix, tf.int32)[None, :]), axis=-1)
            matches = matches & (cur_len >= len(prefix))
            banned = banned | (matches[:, None] & tf.cast(tf.one_hot(seq[-1], vocab), tf.bool)[None, :])
        return tf.where(banned, tf.cast(NEG_INF, scores.dtype), scores)


class _EosBlocker(LogitsProcessor):
    def __init__(self, eos_token_id):
        self.eos_token_ids = _as_ids(eos_token_id)
        if not self.eos_token_ids:
            raise ValueError("This processor needs eos_token_id (an int or a list of ints); none was given.")

    def _block(self, scores, active):
        mask = _token_mask(self.eos_token_ids, scores.shape[-1])[None, :] & active
        return tf.where(mask, tf.cast(NEG_INF, scores.dtype), scores)


class MinLengthLogitsProcessor(_EosBlocker):
    """Forbid eos while the sequence (prompt included) is shorter than `min_length`."""

    def __init__(self, min_length: int, eos_token_id):
        super().__init__(eos_token_id)
        self.min_length = int(min_length)

    def __call__(self, input_ids, scores, cur_len):
        return self._block(scores, cur_len < self.min_length)


class MinNewTokensLengthLogitsProcessor(_EosBlocker):
    """Forbid eos until `min_new_tokens` tokens follow the prompt (of length `prompt_length_to_skip`)."""

    def __init__(self, prompt_length_to_skip: int, min_new_tokens: int, eos_token_id):
        super().__init__(eos_token_id)
        self.prompt_length_to_skip = prompt_length_to_skip  # an int, or a scalar tensor in a serving graph
        self.min_new_tokens = int(min_new_tokens)

    def __call__(self, input_ids, scores, cur_len):
        return self._block(scores, cur_len - self.prompt_length_to_skip < self.min_new_tokens)


class _ForceTokens(LogitsProcessor):
    def _force(self, scores, token_ids, active):
        forced = tf.where(_token_mask(token_ids, scores.shape[-1])[None, :], tf.zeros_like(scores),
                          tf.fill(tf.shape(scores), tf.cast(NEG_INF, scores.dtype)))
        return tf.where(active, forced, scores)


class ForcedBOSTokenLogitsProcessor(_ForceTokens):
    """Force `bos_token_id` as the first generated token (when the sequence holds one token)."""

    def __init__(self, bos_token_id: int):
        self.bos_token_id = int(bos_token_id)

    def __call__(self, input_ids, scores, cur_len):
        return self._force(scores, [self.bos_token_id], tf.equal(cur_len, 1))


class ForcedEOSTokenLogitsProcessor(_ForceTokens):
    """Force an eos token as the last token when `max_length` is reached."""

    def __init__(self, max_length, eos_token_id):
        self.max_length = max_length  # an int, or a scalar tensor in a serving graph
        self.eos_token_ids = _as_ids(eos_token_id)

    def __call__(self, input_ids, scores, cur_len):
        return self._force(scores, self.eos_token_ids, tf.equal(cur_len, self.max_length - 1))


class ForceTokensLogitsProcessor(_ForceTokens):
    """Force token `t` at position `i` of the sequence for each `[i, t]` of `forced_decoder_ids` (Whisper's
    language, task and no-timestamps tokens after the decoder start token at position 0)."""

    def __init__(self, forced_decoder_ids):
        try:
            pairs = [(int(index), int(token)) for index, token in forced_decoder_ids]
        except (TypeError, ValueError):
            raise ValueError(f"forced_decoder_ids must be [[position, token id], ...]; received "
                             f"{forced_decoder_ids!r}.") from None
        if any(index < 1 for index, _ in pairs):
            raise ValueError(f"forced_decoder_ids positions start at 1 (after the decoder start token); received "
                             f"{forced_decoder_ids!r}.")
        self.positions = [index for index, _ in pairs]
        self.tokens = [token for _, token in pairs]

    def __call__(self, input_ids, scores, cur_len):
        hit = tf.equal(tf.constant(self.positions), tf.cast(cur_len, tf.int32))
        token = tf.reduce_sum(tf.where(hit, tf.constant(self.tokens), 0))
        forced = tf.where(tf.equal(tf.range(tf.shape(scores)[-1]), token)[None, :], tf.zeros_like(scores),
                          tf.fill(tf.shape(scores), tf.cast(NEG_INF, scores.dtype)))
        return tf.where(tf.reduce_any(hit), forced, scores)


class SuppressTokensLogitsProcessor(LogitsProcessor):
    """Forbid `suppress_tokens` at every step."""

    def __init__(self, suppress_tokens: list[int]):
        self.suppress_tokens = _as_ids(suppress_tokens)

    def __call__(self, input_ids, scores, cur_len):
        mask = _token_mask(self.suppress_tokens, scores.shape[-1])[None, :]
        return tf.where(mask, tf.cast(NEG_INF, scores.dtype), scores)


class SuppressTokensAtBeginLogitsProcessor(LogitsProcessor):
    """Forbid `begin_suppress_tokens` at the first generated position (`begin_index`)."""

    def __init__(self, begin_suppress_tokens: list[int], begin_index):
        self.begin_suppress_tokens = _as_ids(begin_suppress_tokens)
        self.begin_index = begin_index  # an int, or a scalar tensor in a serving graph

    def __call__(self, input_ids, scores, cur_len):
        mask = _token_mask(self.begin_suppress_tokens, scores.shape[-1])[None, :] & tf.equal(cur_len, self.begin_index)
        return tf.where(mask, tf.cast(NEG_INF, scores.dtype), scores)


def build_logits_processors(config, prompt_length, padding_lengths: tf.Tensor | None = None,
                            max_length=None) -> LogitsProcessorList:
    """The reference's processor chain for `config` (a `GenerationConfig`), in the reference's order; the
    sampling warpers (temperature, top-k, top-p) come last and only with `do_sample`. `prompt_length` and
    `max_length` are ints, or scalar tensors when the prompt length is only known at run time."""
    processors = LogitsProcessorList()
    eos = config.eos_token_ids
    forced_decoder_ids = getattr(config, "forced_decoder_ids", None)  # a field of Whisper's generation configs
    if config.repetition_penalty is not None and config.repetition_penalty != 1.0:
        processors.append(RepetitionPenaltyLogitsProcessor(config.repetition_penalty, padding_lengths))
    if config.no_repeat_ngram_size:
        processors.append(NoRepeatNGramLogitsProcessor(config.no_repeat_ngram_size))
    if config.bad_words_ids is not None:
        processors.append(NoBadWordsLogitsProcessor(config.bad_words_ids, eos))
    if config.min_length and eos:
        processors.append(MinLengthLogitsProcessor(config.min_length, eos))
    if config.min_new_tokens and eos:
        processors.append(MinNewTokensLengthLogitsProcessor(prompt_length, config.min_new_tokens, eos))
    if config.forced_bos_token_id is not None:
        processors.append(ForcedBOSTokenLogitsProcessor(config.forced_bos_token_id))
    if config.forced_eos_token_id is not None:
        processors.append(ForcedEOSTokenLogitsProcessor(max_length or config.max_length, config.forced_eos_token_id))
    if config.suppress_tokens is not None:
        processors.append(SuppressTokensLogitsProcessor(config.suppress_tokens))
    if config.begin_suppress_tokens is not None:
        begin = prompt_length  # one later when a forced bos follows a one-token prompt, as in the reference
        if config.forced_bos_token_id is not None:
            begin = prompt_length + tf.cast(tf.less_equal(prompt_length, 1), tf.int32)
        if forced_decoder_ids:  # after the forced tokens, as the reference
            begin = begin + int(forced_decoder_ids[-1][0])
        processors.append(SuppressTokensAtBeginLogitsProcessor(config.begin_suppress_tokens, begin))
    if forced_decoder_ids:
        processors.append(ForceTokensLogitsProcessor(forced_decoder_ids))
    if config.do_sample:
        if config.temperature is not None and config.temperature != 1.0:
            processors.append(TemperatureLogitsWarper(config.temperature))
        keep = max(len(eos), 1) + 1 if config.num_beams > 1 else 1  # beams keep a non-eos continuation
        if config.top_k is not None and config.top_k != 0:
            processors.append(TopKLogitsWarper(config.top_k, min_tokens_to_keep=keep))
        if config.top_p is not None and config.top_p < 1.0:
            processors.append(TopPLogitsWarper(config.top_p, min_tokens_to_keep=keep))
    return processors
