"""Task losses computed from labels and logits, in float32. Label value -100 never contributes.

Every loss is per example, shape `[batch]` (a shape the reference accepts), so that sample weights apply to it.
Per-example losses are rescaled so that their mean is what PyTorch reports: by `batch / labelled` for one label
per example, the mean over labelled examples; for token-level losses (language modelling, token classification)
each example's sum over its labelled tokens times `batch / labelled tokens`, so that the mean is the mean over all
labelled tokens of the batch. Ignored examples contribute exactly 0. Every loss is 0, never NaN, when no
label is active.
"""

from __future__ import annotations

import tensorflow as tf

IGNORE_INDEX = -100


def _sparse_ce(labels: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
    logits = tf.cast(logits, tf.float32)
    safe = tf.where(labels < 0, tf.zeros_like(labels), labels)
    return tf.nn.sparse_softmax_cross_entropy_with_logits(labels=safe, logits=logits)


def _per_example(losses: tf.Tensor, active: tf.Tensor) -> tf.Tensor:
    active = tf.cast(active, tf.float32)
    count = tf.reduce_sum(active)
    total = tf.cast(tf.size(active), tf.float32)
    return tf.math.divide_no_nan(losses * active * total, count)


def _masked_mean(losses: tf.Tensor, active: tf.Tensor) -> tf.Tensor:
    """Per-example `[batch]` values whose mean is the mean over the active tokens of the whole batch."""
    active = tf.cast(active, tf.float32)
    batch = tf.shape(losses)[0]
    per_example = tf.reduce_sum(tf.reshape(losses * active, (batch, -1)), axis=-1)
    return tf.math.divide_no_nan(per_example * tf.cast(batch, tf.float32), tf.reduce_sum(active))


def masked_lm_loss(labels: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
    """Cross entropy over the positions whose label is not -100 (mean over them: see above); shape `[batch]`."""
    labels = tf.cast(labels, tf.int32)
    return _masked_mean(_sparse_ce(labels, logits), tf.not_equal(labels, IGNORE_INDEX))


def causal_lm_loss(labels: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
    """Next-token loss: logits at `t` predict labels at `t + 1`; shape `[batch]`."""
    return masked_lm_loss(labels[:, 1:], logits[:, :-1])


def token_classification_loss(labels: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
    """Cross entropy over tokens with a label >= 0 (-100 and the legacy -1 are ignored); shape `[batch]`."""
    labels = tf.cast(labels, tf.int32)
    return _masked_mean(_sparse_ce(labels, logits), labels >= 0)


def single_label_loss(labels: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
    """Per-example cross entropy for one class per example (sequence classification, multiple choice)."""
    labels = tf.reshape(tf.cast(labels, tf.int32), (-1,))
    return _per_example(_sparse_ce(labels, logits), tf.not_equal(labels, IGNORE_INDEX))


def sequence_classification_loss(labels: tf.Tensor, logits: tf.Tensor, problem_type: str | None) -> tf.Tensor:
    """Per-example loss chosen by `problem_type` as PyTorch does when it is None: one label -> regression,
    integer labels -> single-label, float labels of the logits' shape -> multi-label."""
    num_labels = logits.shape[-1]
    if problem_type is None:
        if num_labels == 1:
            problem_type = "regression"
        elif labels.dtype.is_integer:
            problem_type = "single_label_classification"
        else:
            problem_type = "multi_label_classification"
    logits = tf.cast(logits, tf.float32)
    if problem_type == "regression":
        labels = tf.cast(labels, tf.float32)
        if num_labels == 1:
            return tf.square(tf.reshape(logits, (-1,)) - tf.reshape(labels, (-1,)))
        return tf.reduce_mean(tf.square(logits - tf.reshape(labels, tf.shape(logits))), axis=-1)
    if problem_type == "multi_label_classification":
        labels = tf.cast(labels, tf.float32)
        return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=logits), axis=-1)
    return single_label_loss(labels, logits)


def question_answering_loss(
    start_positions: tf.Tensor, end_positions: tf.Tensor, start_logits: tf.Tensor, end_logits: tf.Tensor
) -> tf.Tensor:
    """Per-example `(CE(start) + CE(end)) / 2`. As in PyTorch, positions are clamped to `[0, seq_len]` and a
    position equal to `seq_len` (outside the sequence) is ignored."""
    seq_len = tf.shape(start_logits)[-1]

    def one(positions, logits):
        positions = tf.clip_by_value(tf.reshape(tf.cast(positions, tf.int32), (-1,)), 0, seq_len)
        return _per_example(_sparse_ce(tf.minimum(positions, seq_len - 1), logits), positions < seq_len)

    return (one(start_positions, start_logits) + one(end_positions, end_logits)) / 2.0


def next_sentence_loss(labels: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
    """Per-example next-sentence loss (label 0: B follows A, 1: random)."""
    return single_label_loss(labels, logits)


def replaced_token_loss(labels: tf.Tensor, logits: tf.Tensor, attention_mask: tf.Tensor | None = None) -> tf.Tensor:
    """ELECTRA's discriminator loss: binary cross entropy of each token's logit against its 0/1 label (1:
    replaced), over the tokens of `attention_mask` (all tokens without one); shape `[batch]`."""
    labels = tf.cast(labels, tf.float32)
    per_token = tf.nn.sigmoid_cross_entropy_with_logits(labels=labels, logits=tf.cast(logits, tf.float32))
    active = tf.ones_like(labels) if attention_mask is None else tf.cast(tf.equal(attention_mask, 1), tf.float32)
    return _masked_mean(per_token, active)


def load_balancing_loss(router_logits: tuple[tf.Tensor, ...], num_experts: int, top_k: int,
                        attention_mask: tf.Tensor | None = None) -> tf.Tensor:
    """The Switch Transformer's auxiliary loss over a mixture of experts' routers, as Mixtral's reference computes
    it: `num_experts * sum_e(f_e * P_e)`, with `f_e` the share of top-`top_k` picks that went to expert `e` and
    `P_e` its mean router probability, both over every layer's tokens (the real ones, with `attention_mask`).
    `router_logits` holds one `[batch * seq, num_experts]` tensor per layer; returns a float32 scalar.

    Example:
        >>> load_balancing_loss((tf.zeros([6, 4]),), num_experts=4, top_k=2)  # uniform routing: 2 (top_k)
    """
    picks, probabilities, rows = tf.zeros([num_experts]), tf.zeros([num_experts]), 0.0
    mask = None if attention_mask is None else tf.cast(tf.reshape(attention_mask, [-1]), tf.float32)
    for logits in router_logits:
        routing = tf.nn.softmax(tf.cast(logits, tf.float32), axis=-1)
        _, selected = tf.math.top_k(routing, top_k)
        chosen = tf.reduce_sum(tf.one_hot(selected, num_experts), axis=1)  # [tokens, experts]
        if mask is not None:
            chosen, routing = chosen * mask[:, None], routing * mask[:, None]
        picks += tf.reduce_sum(chosen, axis=0)
        probabilities += tf.reduce_sum(routing, axis=0)
        rows += tf.cast(tf.shape(logits)[0], tf.float32) if mask is None else tf.reduce_sum(mask)
    return tf.reduce_sum(picks / rows * probabilities / rows) * num_experts


def contrastive_loss(logits_per_text: tf.Tensor) -> tf.Tensor:
    """CLIP's symmetric loss, shape `[1]` as the reference's TF: the mean cross entropy of matching each text to its
    image (row `i` to column `i`) and each image to its text, averaged.

    Example:
        >>> contrastive_loss(tf.eye(4) * 10.0)  # near 0: every pair matches best with itself
    """
    logits = tf.cast(logits_per_text, tf.float32)
    targets = tf.range(tf.shape(logits)[0])
    caption = tf.reduce_mean(_sparse_ce(targets, logits))
    image = tf.reduce_mean(_sparse_ce(targets, tf.transpose(logits)))
    return tf.reshape((caption + image) / 2.0, (1,))
