"""Wall time and peak RSS of loading a Llama-shaped model of about 1.1B parameters from sharded bfloat16 safetensors
(the Hub's layout: `model-0000i-of-0000N.safetensors` + index), ours in bfloat16 against transformers (PyTorch).

    python benchmarks/llm_load.py                  # TinyLlama-1.1B's shape, 500 MB shards
    python benchmarks/llm_load.py --layers 2       # a quick run of the same widths

The checkpoint (random weights) is written with numpy alone into a temporary directory. Each load runs in a fresh
subprocess; it reports the RSS after its imports (the framework's own footprint), the peak RSS (ru_maxrss) and the
load's wall time, and checks one weight against the file. transformers memory-maps the files, so its weights count
in RSS only once read: the peak is taken after reading every weight once (what a first forward pass does).
The limit the loader must meet is the RSS after imports plus the checkpoint plus its largest shard.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# TinyLlama-1.1B: 22 layers, hidden 2048, MLP 5632, 32 query heads on 4 key/value heads, vocabulary 32000.
SHAPE = dict(vocab_size=32000, hidden_size=2048, intermediate_size=5632, num_hidden_layers=22, num_attention_heads=32,
             num_key_value_heads=4, max_position_embeddings=2048)
PROBE = "model.layers.1.mlp.down_proj.weight"


def tensor_shapes(config: dict) -> dict[str, tuple[int, int]]:
    """The PyTorch state dict's shapes of a Llama model of `config`, in the Hub's key order."""
    hidden, inner = config["hidden_size"], config["intermediate_size"]
    kv = config["num_key_value_heads"] * hidden // config["num_attention_heads"]
    shapes = {"model.embed_tokens.weight": (config["vocab_size"], hidden)}
    for i in range(config["num_hidden_layers"]):
        prefix = f"model.layers.{i}."
        shapes.update({
            prefix + "self_attn.q_proj.weight": (hidden, hidden), prefix + "self_attn.k_proj.weight": (kv, hidden),
            prefix + "self_attn.v_proj.weight": (kv, hidden), prefix + "self_attn.o_proj.weight": (hidden, hidden),
            prefix + "mlp.gate_proj.weight": (inner, hidden), prefix + "mlp.up_proj.weight": (inner, hidden),
            prefix + "mlp.down_proj.weight": (hidden, inner),
            prefix + "input_layernorm.weight": (hidden,), prefix + "post_attention_layernorm.weight": (hidden,),
        })
    shapes["model.norm.weight"] = (hidden,)
    shapes["lm_head.weight"] = (config["vocab_size"], hidden)
    return shapes


def write_checkpoint(directory: str, config: dict, shard_bytes: int) -> dict:
    """Random bfloat16 weights as sharded safetensors with an index and a config, one tensor in memory at a time."""
    import ml_dtypes
    import numpy as np

    from tfmodels.checkpoints.base import LazyArray
    from tfmodels.checkpoints.safetensors_format import write_safetensors

    bf16 = np.dtype(ml_dtypes.bfloat16)
    rng = np.random.default_rng(0)

    def random(shape):
        def load():
            if len(shape) == 1:
                return np.ones(shape, bf16)
            return (rng.standard_normal(shape, dtype=np.float32) * 0.02).astype(bf16)
        return LazyArray(shape, bf16, load)

    shards, current, size = [], {}, 0
    for name, shape in tensor_shapes(config).items():
        nbytes = int(np.prod(shape)) * 2
        if current and size + nbytes > shard_bytes:
            shards.append(current)
            current, size = {}, 0
        current[name] = random(shape)
        size += nbytes
    shards.append(current)
    weight_map, total, largest = {}, 0, 0
    for index, tensors in enumerate(shards, 1):
        file = f"model-{index:05d}-of-{len(shards):05d}.safetensors"
        write_safetensors(os.path.join(directory, file), tensors, {"format": "pt"})
        weight_map.update(dict.fromkeys(tensors, file))
        total += os.path.getsize(os.path.join(directory, file))
        largest = max(largest, os.path.getsize(os.path.join(directory, file)))
    with open(os.path.join(directory, "model.safetensors.index.json"), "w") as handle:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, handle, indent=2)
    with open(os.path.join(directory, "config.json"), "w") as handle:
        json.dump({**config, "model_type": "llama", "architectures": ["LlamaForCausalLM"], "dtype": "bfloat16",
                   "torch_dtype": "bfloat16", "rms_norm_eps": 1e-5, "tie_word_embeddings": False}, handle, indent=2)
    return {"files": len(shards), "bytes": total, "largest_shard": largest,
            "parameters": sum(int(np.prod(s)) for s in tensor_shapes(config).values())}


def _gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2  # KB on Linux, so GiB


def _current_gb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1024 ** 3


def _probe_from_file(directory: str):
    from tfmodels.checkpoints.safetensors_format import read_safetensors

    with open(os.path.join(directory, "model.safetensors.index.json")) as handle:
        file = json.load(handle)["weight_map"][PROBE]
    weights = read_safetensors(os.path.join(directory, file))
    try:
        return weights.tensors[PROBE].load()
    finally:
        weights.close()


def measure(which: str, directory: str) -> dict:
    """One load in this process: `ours` (tfmodels, bfloat16) or `transformers` (PyTorch, bfloat16)."""
    import numpy as np

    if which == "ours":
        from tfmodels import TFLlamaForCausalLM  # imports TensorFlow and Keras: counted before the load

        baseline = _current_gb()
        start = time.perf_counter()
        model = TFLlamaForCausalLM.from_pretrained(directory, dtype="bfloat16")
        seconds = time.perf_counter() - start
        dtypes = sorted({w.dtype for w in model.weights})
        kernel = next(w for w in model.weights if w.path.endswith("layers.1/mlp/down_proj/kernel"))
        loaded = np.asarray(kernel.numpy()).T
        parameters = model.num_parameters()
        mapped_peak = None
    else:
        import torch
        from transformers import LlamaForCausalLM

        baseline = _current_gb()
        start = time.perf_counter()
        model = LlamaForCausalLM.from_pretrained(directory, dtype=torch.bfloat16)
        seconds = time.perf_counter() - start
        mapped_peak = _gb()  # transformers maps the files: pages count once the weights are first read
        for parameter in model.parameters():
            parameter.detach().view(torch.int16).sum()
        dtypes = sorted({str(p.dtype) for p in model.parameters()})
        loaded = model.state_dict()[PROBE].view(torch.int16).numpy()
        parameters = sum(p.numel() for p in model.parameters())
    expected = _probe_from_file(directory)
    same = bool(np.array_equal(np.asarray(loaded).view(np.int16), expected.view(np.int16)))
    return {"seconds": round(seconds, 2), "baseline_gb": round(baseline, 2), "peak_gb": round(_gb(), 2),
            "peak_before_reading_gb": None if mapped_peak is None else round(mapped_peak, 2), "dtypes": dtypes,
            "parameters": int(parameters), "probe_equal": same}


def _run(which: str, directory: str) -> dict:
    result = subprocess.run([sys.executable, os.path.abspath(__file__), "--measure", which, directory],
                            capture_output=True, text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": ROOT,
                                                                         "TF_CPP_MIN_LOG_LEVEL": "3"})
    if result.returncode != 0:
        raise RuntimeError(f"{which} failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=SHAPE["num_hidden_layers"])
    parser.add_argument("--shard-mb", type=int, default=500)
    parser.add_argument("--measure", nargs=2, metavar=("WHICH", "DIRECTORY"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.path.insert(0, ROOT)  # tfmodels from this checkout
    if args.measure:
        print(json.dumps(measure(*args.measure)))
        return
    config = {**SHAPE, "num_hidden_layers": args.layers}
    with tempfile.TemporaryDirectory() as directory:
        start = time.perf_counter()
        written = write_checkpoint(directory, config, args.shard_mb * 10 ** 6)
        print(f"checkpoint: {written['parameters'] / 1e9:.2f}B parameters, {written['bytes'] / 1e9:.2f} GB bfloat16 "
              f"in {written['files']} shards of at most {args.shard_mb} MB (written in "
              f"{time.perf_counter() - start:.0f} s)")
        print(f"{'loader':<34}{'seconds':>9}{'RSS after imports':>19}{'peak RSS':>11}{'peak - imports':>17}  (GiB)")
        for which, label in (("ours", "tfmodels, dtype='bfloat16'"),
                             ("transformers", "transformers, dtype=torch.bfloat16")):
            r = _run(which, directory)
            if not r["probe_equal"] or r["parameters"] != written["parameters"]:
                raise RuntimeError(f"{label} did not load the checkpoint's values: {r}")
            print(f"{label:<34}{r['seconds']:>9.2f}{r['baseline_gb']:>19.2f}{r['peak_gb']:>11.2f}"
                  f"{r['peak_gb'] - r['baseline_gb']:>17.2f}  {','.join(r['dtypes'])}")
            if r["peak_before_reading_gb"] is not None:
                print(f"{'':<34}(peak {r['peak_before_reading_gb']:.2f} GiB before the mapped weights were first read)")
            if which == "ours":
                limit = r["baseline_gb"] + (written["bytes"] + written["largest_shard"]) / 1024 ** 3
                print(f"{'':<34}limit: RSS after imports + checkpoint + largest shard = {limit:.2f} GiB: "
                      f"{'met' if r['peak_gb'] <= limit else 'NOT MET'}")


if __name__ == "__main__":
    main()
