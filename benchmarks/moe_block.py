"""Mixtral's mixture of experts: each expert computing only its tokens (gathered and scattered back, the eager and
traced path), against every expert on every token (dense), and the XLA path (each expert in use on every token,
inside a conditional), on a Mixtral-8x7B-shaped block scaled down to fit here (8 experts, 2 per token).

    python benchmarks/moe_block.py [--hidden 1024] [--intermediate 3584] [--repeats 5]

Prints one JSON line per (shape, path): milliseconds of the best of `--repeats` calls, for a prefill (8 x 128
tokens) and a decoding step (1 and 8 tokens). The outputs of every path are checked equal first.
"""

from __future__ import annotations

import argparse
import json
import time


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hidden", type=int, default=1024)
    parser.add_argument("--intermediate", type=int, default=3584)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    import keras
    import numpy as np
    import tensorflow as tf

    from tfmodels.layers.moe import SparseMoEFeedForward

    keras.utils.set_random_seed(0)
    moe = SparseMoEFeedForward(args.hidden, args.intermediate, num_experts=8, top_k=2, activation="silu",
                               name="block_sparse_moe")

    def dense(x):  # every expert on every token, weighted by zero where the token did not pick it
        tokens = tf.reshape(x, [-1, args.hidden])
        _, weights, experts = moe.route(tokens)
        output = tf.zeros_like(tokens)
        for index, expert in enumerate(moe.experts):
            weight = tf.reduce_sum(tf.where(tf.equal(experts, index), weights, 0.0), axis=-1)[:, None]
            output += expert(tokens) * weight
        return tf.reshape(output, tf.shape(x))

    paths = {
        "gathered (traced)": tf.function(lambda x: moe(x)[0]),
        "dense (traced)": tf.function(dense),
        "experts in use (XLA)": tf.function(lambda x: moe(x)[0], jit_compile=True),
        "dense (XLA)": tf.function(dense, jit_compile=True),
    }
    rng = np.random.default_rng(0)
    for name, shape in (("prefill", (8, 128)), ("decode, batch 1", (1, 1)), ("decode, batch 8", (8, 1))):
        x = tf.constant(rng.normal(size=(*shape, args.hidden)).astype(np.float32))
        reference = paths["gathered (traced)"](x).numpy()
        for path, function in paths.items():
            np.testing.assert_allclose(function(x).numpy(), reference, atol=1e-4, rtol=1e-4)
            times = []
            for _ in range(args.repeats):
                start = time.perf_counter()
                function(x).numpy()
                times.append(time.perf_counter() - start)
            print(json.dumps({"shape": name, "tokens": shape[0] * shape[1], "path": path,
                              "ms": round(1000 * min(times), 2)}), flush=True)


if __name__ == "__main__":
    main()
