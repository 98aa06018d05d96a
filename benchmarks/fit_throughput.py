"""`model.fit` throughput of a BERT-base-sized TFBertForSequenceClassification (110M parameters).

    python benchmarks/fit_throughput.py [--steps 8] [--warmup 2] [--gradient-checkpointing]

Sequence length 128, batch 16, Adam; three runs, each in a fresh process: fp32, fp32 with `jit_compile=True`, and
the `mixed_bfloat16` policy. Reports samples/s over the steps after the warm-up ones, and peak RSS.
`--gradient-checkpointing` runs fp32 without and with `model.gradient_checkpointing_enable()` instead.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BATCH, LENGTH = 16, 128


def measure(mode: str, steps: int, warmup: int) -> dict:
    import keras
    import numpy as np
    import tensorflow as tf

    from tfmodels import BertConfig, TFBertForSequenceClassification

    if mode == "mixed_bfloat16":
        keras.config.set_dtype_policy("mixed_bfloat16")
    model = TFBertForSequenceClassification(BertConfig(num_labels=2))
    if mode == "fp32_checkpointing":
        model.gradient_checkpointing_enable()
    model.compile(optimizer=keras.optimizers.Adam(3e-5), jit_compile=(mode == "fp32_xla"))
    rng = np.random.default_rng(0)
    data = tf.data.Dataset.from_tensors({
        "input_ids": rng.integers(1, 30000, (BATCH, LENGTH)).astype(np.int32),
        "attention_mask": np.ones((BATCH, LENGTH), np.int32),
        "labels": rng.integers(0, 2, (BATCH,)).astype(np.int32),
    }).repeat()

    class Timer(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.times = []

        def on_train_batch_end(self, batch, logs=None):
            self.times.append(time.perf_counter())

    timer = Timer()
    model.fit(data, steps_per_epoch=steps + warmup, epochs=1, verbose=0, callbacks=[timer])
    seconds = timer.times[-1] - timer.times[warmup - 1]
    return {"mode": mode, "samples_per_s": round(steps * BATCH / seconds, 2),
            "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--gradient-checkpointing", action="store_true",
                        help="compare fp32 without and with gradient checkpointing")
    parser.add_argument("--mode", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.mode:
        print(json.dumps(measure(args.mode, args.steps, args.warmup)))
        return
    env = {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "3"}
    rows = []
    modes = ("fp32", "fp32_checkpointing") if args.gradient_checkpointing else ("fp32", "fp32_xla", "mixed_bfloat16")
    for mode in modes:
        out = subprocess.run([sys.executable, __file__, "--mode", mode, "--steps", str(args.steps),
                              "--warmup", str(args.warmup)], env=env, check=True, capture_output=True, text=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(rows[-1], flush=True)
    print("\n| mode | samples/s | peak RSS (GB) |\n|---|---|---|")
    for row in rows:
        print(f"| {row['mode']} | {row['samples_per_s']} | {row['peak_rss_gb']} |")


if __name__ == "__main__":
    main()
