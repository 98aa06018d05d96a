"""What the boundary checks of a model's inputs cost (`tfmodels.input_checks`: dtypes, shapes, token ids inside
the vocabulary, lengths inside the positions) on the hot paths, against the same calls with the checks removed.

    python benchmarks/input_checks.py [--repeats 30] [--batch 8] [--length 128]

Paths: an eager call (one graph per layer, checks on the host), a `tf.function` call (checks as graph assertions)
and a `jit_compile=True` call (XLA drops the assertions; the shapes are checked while tracing), each on a BERT-base
sized `TFBertForSequenceClassification` and on a tiny one (2 layers of 128), where the checks weigh most; and one
`generate(jit_compile=True)` step loop of a tiny GPT-2, whose prompt is checked on the host. Prints one JSON line per
measurement: the median milliseconds per call with and without the checks, and their difference.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def median_ms(functions: dict, repeats: int) -> dict[str, float]:
    """Median milliseconds per call of each function, run alternately (this shared machine's speed drifts)."""
    for function in functions.values():  # tracing and compilation outside the timing
        function()
        function()
    times = {label: [] for label in functions}
    for _ in range(repeats):
        for label, function in functions.items():
            start = time.perf_counter()
            function()
            times[label].append(time.perf_counter() - start)
    return {label: 1000 * float(np.median(values)) for label, values in times.items()}


def without_checks(model):
    """The model with `check_inputs` replaced by the identity (for the comparison only)."""
    model.check_inputs = lambda arguments: arguments
    return model


def measure_calls(name: str, config, batch: int, length: int, repeats: int) -> None:
    import tensorflow as tf

    from tfmodels import TFBertForSequenceClassification

    ids = tf.constant(np.random.default_rng(0).integers(5, config.vocab_size, (batch, length)).astype(np.int32))
    mask = tf.ones_like(ids)
    checked = TFBertForSequenceClassification(config)
    unchecked = without_checks(TFBertForSequenceClassification(config))
    unchecked.set_weights(checked.get_weights())
    for path in ("eager", "tf.function", "xla"):
        runs = {}
        for label, model in (("checked", checked), ("unchecked", unchecked)):
            if path == "eager":
                def run(model=model):
                    return model({"input_ids": ids, "attention_mask": mask}).logits.numpy()
            else:
                compiled = tf.function(lambda i, m, model=model: model({"input_ids": i, "attention_mask": m}).logits,
                                       jit_compile=path == "xla")

                def run(compiled=compiled):
                    return compiled(ids, mask).numpy()
            runs[label] = run
        timings = median_ms(runs, repeats)
        print(json.dumps({"model": name, "path": path, "batch": batch, "length": length,
                          "checked_ms": round(timings["checked"], 3), "unchecked_ms": round(timings["unchecked"], 3),
                          "overhead_ms": round(timings["checked"] - timings["unchecked"], 3)}), flush=True)


def measure_generate(repeats: int) -> None:
    from tfmodels import GPT2Config, TFGPT2LMHeadModel

    config = GPT2Config(vocab_size=1000, n_embd=128, n_layer=2, n_head=2, n_positions=256)
    ids = np.random.default_rng(0).integers(5, 1000, (8, 32)).astype(np.int32)
    runs = {}
    for label in ("checked", "unchecked"):
        model = TFGPT2LMHeadModel(config)
        if label == "unchecked":
            without_checks(model)
        runs[label] = lambda model=model: model.generate(ids, max_new_tokens=16, min_new_tokens=16,
                                                         jit_compile=True).numpy()
    timings = median_ms(runs, repeats)
    print(json.dumps({"model": "gpt2-tiny", "path": "generate(jit_compile=True)", "batch": 8, "length": 32,
                      "checked_ms": round(timings["checked"], 3), "unchecked_ms": round(timings["unchecked"], 3),
                      "overhead_ms": round(timings["checked"] - timings["unchecked"], 3)}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--length", type=int, default=128)
    args = parser.parse_args()
    sys.path.insert(0, ROOT)  # tfmodels from this checkout

    from tfmodels import BertConfig

    tiny = BertConfig(vocab_size=30522, hidden_size=128, num_hidden_layers=2, num_attention_heads=2,
                      intermediate_size=512)
    measure_calls("bert-tiny", tiny, args.batch, args.length, args.repeats)
    measure_calls("bert-base", BertConfig(), args.batch, args.length, max(5, args.repeats // 3))
    measure_generate(args.repeats)


if __name__ == "__main__":
    main()
