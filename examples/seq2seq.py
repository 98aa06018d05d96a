"""Train a small T5 from a config to reverse digit strings, measure exact-match accuracy before and after, generate,
and export a TF Serving model with a `generate` signature.

    python examples/seq2seq.py [--steps 1500] [--output-dir seq2seq_out] [--quick]

The toy task needs no download: the data generator below draws strings of 3 to 8 digits (tokens 2-11; 0 pads,
1 ends a sequence) and the target is the same digits reversed. A few minutes of CPU reach near-perfect exact
match; `--quick` (a few dozen steps, a small evaluation) only checks that everything runs.
"""

from __future__ import annotations

import argparse
import json
import os

PAD, EOS, FIRST_DIGIT = 0, 1, 2
MIN_DIGITS, MAX_DIGITS = 3, 8
LENGTH = MAX_DIGITS + 1  # the digits and the end token


def make_examples(count: int, seed: int):
    """`count` (source, target) pairs as padded int32 arrays `[count, LENGTH]`: the digits and `EOS`, and the
    digits reversed and `EOS`; targets padded with -100 (ignored by the loss).

    Example:
        >>> sources, targets = make_examples(2, seed=0)  # e.g. [5 3 9 1 0 ...] -> [9 3 5 1 -100 ...]
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    sources = np.full((count, LENGTH), PAD, np.int32)
    targets = np.full((count, LENGTH), -100, np.int32)
    for row in range(count):
        digits = FIRST_DIGIT + rng.integers(0, 10, rng.integers(MIN_DIGITS, MAX_DIGITS + 1))
        sources[row, : len(digits) + 1] = [*digits, EOS]
        targets[row, : len(digits) + 1] = [*digits[::-1], EOS]
    return sources, targets


def exact_match(model, sources, targets, batch_size: int = 256) -> tuple[float, list[list[int]]]:
    """The share of sources whose greedy generation (up to its end token) equals the target; and the
    generations (without the decoder start token)."""
    import numpy as np

    generated = []
    for start in range(0, len(sources), batch_size):
        ids = sources[start:start + batch_size]
        out = model.generate(ids, attention_mask=(ids != PAD).astype(np.int32), max_new_tokens=LENGTH).numpy()
        generated += [_until_eos(row[1:]) for row in out]
    expected = [_until_eos(row) for row in targets]
    return float(np.mean([g == e for g, e in zip(generated, expected)])), generated


def _until_eos(tokens) -> list[int]:
    tokens = [int(t) for t in tokens]
    return tokens[: tokens.index(EOS) + 1] if EOS in tokens else tokens


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--eval-examples", type=int, default=500)
    parser.add_argument("--output-dir", default="seq2seq_out")
    parser.add_argument("--quick", action="store_true", help="a reduced run (tests): few steps, small evaluation")
    args = parser.parse_args(argv)
    if args.quick:
        args.steps, args.eval_examples = 60, 32

    import keras
    import numpy as np
    import tensorflow as tf

    from serving import export_saved_model
    from tfmodels import T5Config, TFT5ForConditionalGeneration

    keras.utils.set_random_seed(0)
    train_sources, train_targets = make_examples(20000, seed=0)
    eval_sources, eval_targets = make_examples(args.eval_examples, seed=1)
    dataset = tf.data.Dataset.from_tensor_slices({
        "input_ids": train_sources, "attention_mask": (train_sources != PAD).astype(np.int32),
        "labels": train_targets,
    }).shuffle(len(train_sources), seed=0).repeat().batch(args.batch_size)

    # T5 v1.1 style (gated-gelu, untied head), tiny; dropout off for a short run.
    config = T5Config(vocab_size=FIRST_DIGIT + 10, d_model=64, d_kv=16, d_ff=128, num_layers=2, num_heads=4,
                      relative_attention_num_buckets=16, relative_attention_max_distance=32, dropout_rate=0.0,
                      feed_forward_proj="gated-gelu", tie_word_embeddings=False)
    model = TFT5ForConditionalGeneration(config)
    accuracy_before, _ = exact_match(model, eval_sources, eval_targets)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="auto")
    history = model.fit(dataset, steps_per_epoch=args.steps, epochs=1, verbose=2).history
    accuracy_after, generated = exact_match(model, eval_sources, eval_targets)
    print(f"exact match: {accuracy_before:.3f} before training, {accuracy_after:.3f} after {args.steps} steps")
    for source, output in list(zip(eval_sources, generated))[:3]:
        print(f"  {_until_eos(source)} -> {output}")

    export = export_saved_model(model, os.path.join(args.output_dir, "export"), generate=True,
                                generation_kwargs={"max_new_tokens": LENGTH})
    served = tf.saved_model.load(export).signatures["generate"]
    sample = eval_sources[:2]
    answer = served(input_ids=tf.constant(sample), attention_mask=tf.constant((sample != PAD).astype(np.int32)))
    served_tokens = [_until_eos(row[1:]) for row in answer["sequences"].numpy()]
    print(f"served generate at {export}: {served_tokens}")
    results = {"loss": history["loss"][-1], "accuracy_before": accuracy_before, "accuracy_after": accuracy_after,
               "examples": [{"source": _until_eos(s), "target": _until_eos(t), "generated": g}
                            for s, t, g in zip(eval_sources[:8], eval_targets[:8], generated[:8])],
               "export": export, "served": served_tokens}
    with open(os.path.join(args.output_dir, "results.json"), "w", encoding="utf-8") as handle:
        json.dump(results, handle, indent=1)
    return results


if __name__ == "__main__":
    main()
