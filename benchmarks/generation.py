"""Greedy generation speed of a GPT-2-small-sized TFGPT2LMHeadModel (124M parameters, random weights).

    python benchmarks/generation.py [--new-tokens 64] [--prompt 32] [--batches 1,8] [--dtypes float32,bfloat16]
                                    [--repeats 3]

For each weight dtype (one fresh process each: fp32, bf16 weights) and each batch size: eager `generate` (each model
pass one graph, the loop in Python) and compiled `generate(jit_compile=True)` (the whole loop one XLA program).
The first call's time (tracing and compilation included) and the new tokens per second of the best of the next
`--repeats` calls (all rows together; the median too: this shared machine's memory bandwidth varies from run to run)
are printed as one JSON line per measurement. `min_new_tokens` keeps every run at exactly --new-tokens.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def measure(dtype: str, batches: list[int], prompt: int, new_tokens: int, repeats: int) -> list[dict]:
    import keras
    import numpy as np

    from tfmodels import GPT2Config, TFGPT2LMHeadModel

    keras.utils.set_random_seed(0)
    keras.config.set_dtype_policy(dtype)  # bfloat16: weights, activations and cache in bf16; logits float32
    model = TFGPT2LMHeadModel(GPT2Config())
    rng = np.random.default_rng(0)
    results = []
    for batch in batches:
        ids = rng.integers(0, 50000, (batch, prompt)).astype(np.int32)
        for mode in ("eager", "compiled"):
            kwargs = {"max_new_tokens": new_tokens, "min_new_tokens": new_tokens, "jit_compile": mode == "compiled"}
            start = time.perf_counter()
            first = model.generate(ids, **kwargs).numpy()
            first_call = time.perf_counter() - start
            times = []
            for _ in range(repeats):
                start = time.perf_counter()
                again = model.generate(ids, **kwargs).numpy()
                times.append(time.perf_counter() - start)
                assert again.shape == first.shape == (batch, prompt + new_tokens)
            seconds = min(times)
            results.append({"dtype": dtype, "batch": batch, "mode": mode, "first_call_s": round(first_call, 2),
                            "new_tokens_per_s": round(batch * new_tokens / seconds, 1),
                            "median_new_tokens_per_s": round(batch * new_tokens / float(np.median(times)), 1),
                            "s_per_token_step": round(seconds / new_tokens, 4), "params": model.num_parameters()})
            print(json.dumps(results[-1]), flush=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--prompt", type=int, default=32)
    parser.add_argument("--batches", default="1,8")
    parser.add_argument("--dtypes", default="float32,bfloat16")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dtype", default=None, help=argparse.SUPPRESS)  # the child process's one dtype
    args = parser.parse_args()
    batches = [int(b) for b in args.batches.split(",")]
    if args.dtype is not None:
        measure(args.dtype, batches, args.prompt, args.new_tokens, args.repeats)
        return
    for dtype in args.dtypes.split(","):  # a fresh process per dtype: the global dtype policy and memory
        subprocess.run([sys.executable, __file__, "--dtype", dtype, "--batches", args.batches, "--prompt",
                        str(args.prompt), "--new-tokens", str(args.new_tokens), "--repeats", str(args.repeats)],
                       check=True, cwd=ROOT, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})


if __name__ == "__main__":
    main()
