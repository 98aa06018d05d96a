"""Greedy generation speed (random weights): a GPT-2-small-sized TFGPT2LMHeadModel (124M parameters, the default),
a Gemma-2-shaped model (sliding-window and full layers, soft-capping) or a Mixtral-shaped one (8 experts, 2 per
token).

    python benchmarks/generation.py [--model gpt2|gemma2|mixtral] [--new-tokens 64] [--prompt 32] [--batches 1,8]
                                    [--dtypes float32,bfloat16] [--repeats 3] [--exported] [--quantize int8]
                                    [--reference-python PY]

For each weight dtype (one fresh process each: fp32, bf16 weights) and each batch size: eager `generate` (each model
pass one graph, the loop in Python), compiled `generate(jit_compile=True)` (the whole loop one XLA program),
`generate` inside the user's own `tf.function(jit_compile=True)`, and with `--exported` the `generate` signature of
`serving.export_saved_model(..., generate=True)` loaded in a process that imports only TensorFlow (its new tokens
and whether they equal the library's; exported with `batch_sizes=[batch]`, as for TF Serving's batching with that
`allowed_batch_sizes`); with `--quantize int8` the model is first quantized by Keras' `model.quantize("int8")` (its
Dense projections: use --model gemma2 or mixtral; GPT-2's Conv1D layers stay as they are); for Gemma 2 and Mixtral
also transformers (PyTorch) on the same weights (saved here, loaded there in the same dtype), with whether its
tokens equal ours; with `--reference-python` (a Python with transformers 4.x and tf-keras; GPT-2 only) the
reference's own TF GPT-2 in float32 (the only precision its TF generation ran in) generating the same prompts inside
`tf.function(model.generate, jit_compile=True)`, its documented XLA path. The first call's time (tracing and
compilation included) and the new tokens per second of the best of the next `--repeats` calls (all rows together;
the median too: this shared machine's memory bandwidth varies from run to run) are printed as one JSON line per
measurement. `min_new_tokens` keeps every run at exactly --new-tokens.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# Shapes that fit this machine: Gemma 2's layer (head_dim apart, soft-capping, a window the 96 positions pass) and
# Mixtral's (8 experts of which 2 per token), with a 32k vocabulary.
SHAPES = {
    "gemma2": ("Gemma2Config", "TFGemma2ForCausalLM", dict(
        vocab_size=32000, hidden_size=768, intermediate_size=3072, num_hidden_layers=8, num_attention_heads=8,
        num_key_value_heads=4, head_dim=128, query_pre_attn_scalar=128, sliding_window=64,
        max_position_embeddings=1024)),
    "mixtral": ("MixtralConfig", "TFMixtralForCausalLM", dict(
        vocab_size=32000, hidden_size=512, intermediate_size=1408, num_hidden_layers=6, num_attention_heads=8,
        num_key_value_heads=2, num_local_experts=8, num_experts_per_tok=2, max_position_embeddings=1024)),
}


def build(name: str):
    """The model to measure, from a fresh seeded init."""
    import tfmodels

    if name == "gpt2":
        return tfmodels.TFGPT2LMHeadModel(tfmodels.GPT2Config())
    config, model_class, sizes = SHAPES[name]
    return getattr(tfmodels, model_class)(getattr(tfmodels, config)(**sizes, pad_token_id=0, bos_token_id=1,
                                                                     eos_token_id=2))


# The exported `generate` signature, timed in a process that imports TensorFlow alone (as TF Serving would run it).
SERVED = """
import json, sys, time
import numpy as np
import tensorflow as tf
serve = tf.saved_model.load(sys.argv[1]).signatures["generate"]
ids = np.load(sys.argv[2])
inputs = {"input_ids": tf.constant(ids), "attention_mask": tf.ones_like(tf.constant(ids))}
start = time.perf_counter()
first = serve(**inputs)["sequences"].numpy()
first_call = time.perf_counter() - start
times = []
for _ in range(int(sys.argv[3])):
    start = time.perf_counter()
    serve(**inputs)["sequences"].numpy()
    times.append(time.perf_counter() - start)
np.save(sys.argv[2], first)
print("SERVED " + json.dumps({"first_call": first_call, "times": times}))
"""


# The reference's XLA generation: transformers 4.x TF on tf-keras, random GPT-2 weights, the prompts of `ids.npy`.
REFERENCE = """
import json, sys, time
import numpy as np
import tensorflow as tf
from transformers import GPT2Config, TFGPT2LMHeadModel
tf.keras.utils.set_random_seed(0)
model = TFGPT2LMHeadModel(GPT2Config())
ids = tf.constant(np.load(sys.argv[1]))
new_tokens, repeats = int(sys.argv[2]), int(sys.argv[3])
xla_generate = tf.function(model.generate, jit_compile=True)
def call():
    return xla_generate(ids, attention_mask=tf.ones_like(ids), max_new_tokens=new_tokens, min_new_tokens=new_tokens,
                        do_sample=False, pad_token_id=0).numpy()
start = time.perf_counter()
first = call()
first_call = time.perf_counter() - start
assert first.shape == (ids.shape[0], ids.shape[1] + new_tokens), first.shape
times = []
for _ in range(repeats):
    start = time.perf_counter()
    call()
    times.append(time.perf_counter() - start)
print("REFERENCE " + json.dumps({"first_call": first_call, "times": times}))
"""


def reference(python: str, ids, new_tokens: int, repeats: int) -> tuple[float, list[float]]:
    """`timed` for the reference's XLA `generate` of a random GPT-2, run by `python`."""
    import tempfile

    import numpy as np

    with tempfile.TemporaryDirectory() as directory:
        arrays = os.path.join(directory, "ids.npy")
        np.save(arrays, ids)
        out = subprocess.run([python, "-c", REFERENCE, arrays, str(new_tokens), str(repeats)], check=True, text=True,
                             capture_output=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3",
                                                       "TF_USE_LEGACY_KERAS": "1"}).stdout
    report = json.loads(out.split("REFERENCE ")[-1])
    return report["first_call"], report["times"]


def served(model, ids, new_tokens: int, repeats: int) -> tuple[float, list[float], object]:
    """`timed` for the exported `generate` signature in a TensorFlow-only process."""
    import tempfile

    import numpy as np

    from serving import export_saved_model

    with tempfile.TemporaryDirectory() as directory:
        path = export_saved_model(model, directory, generate=True, verify=False, generation_kwargs={
            "max_new_tokens": new_tokens, "min_new_tokens": new_tokens, "batch_sizes": [len(ids)]})
        arrays = os.path.join(directory, "ids.npy")
        np.save(arrays, ids)
        out = subprocess.run([sys.executable, "-c", SERVED, path, arrays, str(repeats)], check=True, text=True,
                             capture_output=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}).stdout
        report = json.loads(out.split("SERVED ")[-1])
        return report["first_call"], report["times"], np.load(arrays)


def timed(generate, repeats: int) -> tuple[float, list[float], object]:
    """The first call's seconds, the next `repeats` calls' seconds, and the first call's tokens."""
    start = time.perf_counter()
    first = generate()
    first_call = time.perf_counter() - start
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        generate()
        times.append(time.perf_counter() - start)
    return first_call, times, first


def record(results: list, row: dict, batch: int, new_tokens: int, first_call: float, times: list[float]) -> None:
    import numpy as np

    seconds = min(times)
    results.append({**row, "batch": batch, "first_call_s": round(first_call, 2),
                    "new_tokens_per_s": round(batch * new_tokens / seconds, 1),
                    "median_new_tokens_per_s": round(batch * new_tokens / float(np.median(times)), 1),
                    "s_per_token_step": round(seconds / new_tokens, 4)})
    print(json.dumps(results[-1]), flush=True)


def measure(name: str, dtype: str, batches: list[int], prompt: int, new_tokens: int, repeats: int,
            exported: bool = False, quantize: str | None = None, reference_python: str | None = None) -> list[dict]:
    import tempfile

    import keras
    import numpy as np
    import tensorflow as tf

    keras.utils.set_random_seed(0)
    keras.config.set_dtype_policy(dtype)  # bfloat16: weights, activations and cache in bf16; logits float32
    model = build(name)
    pt_model = None
    if name != "gpt2":  # transformers on the same weights, in the same dtype
        import torch
        import transformers

        with tempfile.TemporaryDirectory() as directory:
            model.save_pretrained(directory, safe_serialization=True)
            pt_model = transformers.AutoModelForCausalLM.from_pretrained(
                directory, dtype=torch.bfloat16 if dtype == "bfloat16" else torch.float32).eval()
    if quantize:
        model.quantize(quantize)
    rng = np.random.default_rng(0)
    results = []
    lengths = {"max_new_tokens": new_tokens, "min_new_tokens": new_tokens}
    for batch in batches:
        ids = rng.integers(3, 30000, (batch, prompt)).astype(np.int32)
        ours = {}
        wrapped = tf.function(lambda ids: model.generate(ids, **lengths), jit_compile=True)
        calls = {"eager": lambda: model.generate(ids, **lengths).numpy(),
                 "compiled": lambda: model.generate(ids, jit_compile=True, **lengths).numpy(),
                 "user tf.function(jit_compile=True)": lambda: wrapped(tf.constant(ids)).numpy()}
        for mode, call in calls.items():
            first_call, times, ours[mode] = timed(call, repeats)
            assert ours[mode].shape == (batch, prompt + new_tokens)
            record(results, {"model": name, "dtype": dtype, "quantized": quantize, "mode": mode,
                             "params": model.num_parameters(),
                             "same_tokens_as_eager": bool((ours[mode] == ours["eager"]).all())}, batch, new_tokens,
                   first_call, times)
        if exported:
            first_call, times, tokens = served(model, ids, new_tokens, repeats)
            record(results, {"model": name, "dtype": dtype, "mode": "exported signature (TensorFlow only)",
                             "same_tokens_as_compiled": bool((tokens == ours["compiled"]).all())}, batch,
                   new_tokens, first_call, times)
        if reference_python:
            first_call, times = reference(reference_python, ids, new_tokens, repeats)
            record(results, {"model": name, "dtype": "float32", "mode": "reference XLA generate (transformers 4 TF)"},
                   batch, new_tokens, first_call, times)
        if pt_model is not None:
            with torch.no_grad():
                first_call, times, theirs = timed(lambda: pt_model.generate(
                    torch.tensor(ids, dtype=torch.long), do_sample=False, pad_token_id=0, **lengths).numpy(), repeats)
            record(results, {"model": name, "dtype": dtype, "mode": "transformers (PyTorch)",
                             "same_tokens_as_ours": bool((theirs == ours["eager"]).all())}, batch, new_tokens,
                   first_call, times)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="gpt2", choices=["gpt2", *SHAPES])
    parser.add_argument("--new-tokens", type=int, default=64)
    parser.add_argument("--prompt", type=int, default=32)
    parser.add_argument("--batches", default="1,8")
    parser.add_argument("--dtypes", default="float32,bfloat16")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--exported", action="store_true", help="also the exported generate signature")
    parser.add_argument("--quantize", choices=["int8"], default=None, help="Keras' model.quantize first")
    parser.add_argument("--reference-python", default=None,
                        help="a Python with transformers 4.x and tf-keras: also the reference's XLA generate (gpt2)")
    parser.add_argument("--dtype", default=None, help=argparse.SUPPRESS)  # the child process's one dtype
    args = parser.parse_args()
    batches = [int(b) for b in args.batches.split(",")]
    if args.reference_python and args.model != "gpt2":
        parser.error("--reference-python measures the reference's GPT-2 only; use --model gpt2.")
    if args.dtype is not None:
        measure(args.model, args.dtype, batches, args.prompt, args.new_tokens, args.repeats, args.exported,
                args.quantize, args.reference_python)
        return
    for dtype in args.dtypes.split(","):  # a fresh process per dtype: the global dtype policy and memory
        subprocess.run([sys.executable, __file__, "--model", args.model, "--dtype", dtype, "--batches", args.batches,
                        "--prompt", str(args.prompt), "--new-tokens", str(args.new_tokens), "--repeats",
                        str(args.repeats)] + (["--exported"] if args.exported else [])
                       + (["--quantize", args.quantize] if args.quantize else [])
                       + (["--reference-python", args.reference_python]
                          if args.reference_python and dtype == args.dtypes.split(",")[0] else []),
                       check=True, cwd=ROOT, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": ROOT})


if __name__ == "__main__":
    main()
