"""Phi-3's fused projections computed fused (one `qkv_proj` product, then a split; one `gate_up_proj`) against the
same weights split at load into separate projections, at Phi-3-mini's sizes (hidden 3072, 32 heads, intermediate
8192), traced and compiled with XLA.

    python benchmarks/fused_projections.py [--repeats 20]

Prints one JSON line per (shape, projection, form, mode): milliseconds of the best of `--repeats` calls, for a
decoding step (1 token) and a prefill (128 tokens). The fused and split forms are checked equal first.
"""

from __future__ import annotations

import argparse
import json
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()

    import numpy as np
    import tensorflow as tf

    hidden, intermediate = 3072, 8192
    rng = np.random.default_rng(0)
    qkv = tf.constant(rng.normal(0, 0.02, (hidden, 3 * hidden)).astype(np.float32))
    gate_up = tf.constant(rng.normal(0, 0.02, (hidden, 2 * intermediate)).astype(np.float32))
    splits = {"qkv_proj": (qkv, [hidden] * 3), "gate_up_proj": (gate_up, [intermediate] * 2)}

    def fused(kernel, sizes):
        return lambda x: tf.split(tf.matmul(x, kernel), sizes, axis=-1)

    def split(kernel, sizes):
        parts = tf.split(kernel, sizes, axis=-1)  # done once, as a load would
        return lambda x: [tf.matmul(x, part) for part in parts]

    for shape, tokens in (("decode", 1), ("prefill", 128)):
        x = tf.constant(rng.normal(size=(tokens, hidden)).astype(np.float32))
        for projection, (kernel, sizes) in splits.items():
            forms = {"fused": fused(kernel, sizes), "split": split(kernel, sizes)}
            reference = [t.numpy() for t in forms["fused"](x)]
            for form, function in forms.items():
                for mode, compiled in (("traced", False), ("XLA", True)):
                    run = tf.function(function, jit_compile=compiled)
                    for got, want in zip(run(x), reference):
                        np.testing.assert_allclose(got.numpy(), want, atol=1e-4, rtol=1e-4)
                    times = []
                    for _ in range(args.repeats):
                        start = time.perf_counter()
                        [t.numpy() for t in run(x)]
                        times.append(time.perf_counter() - start)
                    print(json.dumps({"shape": shape, "projection": projection, "form": form, "mode": mode,
                                      "ms": round(1000 * min(times), 3)}), flush=True)


if __name__ == "__main__":
    main()
