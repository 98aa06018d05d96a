"""Wall time and peak RSS of from_pretrained / save_pretrained for a BERT-base-sized model (110M parameters), and
of saves in the PyTorch layout against transformers (PyTorch) saving the same weights.

    python benchmarks/checkpoint_io.py                    # TF layouts: loads and saves, each in a fresh process
    python benchmarks/checkpoint_io.py --pytorch-layout   # PyTorch layout: BERT-base fp32, 1.1B Llama bf16
    python benchmarks/checkpoint_io.py --pytorch-layout --repeats 5   # more rounds: a median of 5 saves each
    python benchmarks/checkpoint_io.py --pytorch-layout --llama-layers 2   # a quick run of the same widths

Each measurement runs in its own subprocess so that peak RSS (ru_maxrss) belongs to that operation alone; it
includes TensorFlow itself (about 0.7 GB). Checkpoints are written once into a temporary directory. For saves, the
peak RSS with the model built (before saving) is printed too: the difference is what the save itself adds (the
writers hold one weight at a time, so it stays near the largest weight, the 94 MB word embeddings: measured 0.09 GB
in all four save layouts, where the writer that gathered every array first added 0.44 GB to an unsharded
safetensors save).

`--pytorch-layout` loads the same checkpoint (PyTorch safetensors; the Llama one, TinyLlama-1.1B's shape in
bfloat16, written by `llm_load.py`'s writer) in tfmodels and in transformers, each in a fresh process, reads every
weight once (transformers maps the files), then saves it with `save_pretrained(out, safe_serialization=True,
max_shard_size="5GB")`, after `os.sync()` (no earlier write's dirty pages slow it). It reports the save's wall time,
the part of it our save spends in `fsync` (it makes the files durable before they replace a previous checkpoint;
transformers does not), the time until the files are on disk (for transformers: its save, then an `fsync` of each
file), and what the save adds to the RSS it started from (the kernel's peak-RSS mark is reset just
before the save), against the largest tensor, the target of the streamed writer. A save's time varies with what the
disk and the page cache went through just before it (up to 2x on the shared 2-core machines), so each library saves
`--repeats` times, alternating which goes first, and the table gives the median with the range.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _config():
    from tfmodels import BertConfig

    return BertConfig(num_labels=2)  # bert-base: 12 layers, hidden 768, vocab 30522


def prepare(directory: str) -> None:
    """Write the checkpoints the loads read: tf_model.h5, 100MB h5 shards, PyTorch-layout model.safetensors."""
    from tfmodels import TFBertForSequenceClassification

    model = TFBertForSequenceClassification(_config())
    model.save_pretrained(os.path.join(directory, "h5"))
    model.save_pretrained(os.path.join(directory, "h5_sharded"), max_shard_size="100MB")
    model.save_pretrained(os.path.join(directory, "pt_safetensors"), safe_serialization=True)


SAVES = {
    "save_h5": {},
    "save_h5_sharded": {"max_shard_size": "100MB"},
    "save_safetensors": {"safe_serialization": True, "weight_names": "tf"},
    "save_safetensors_sharded": {"safe_serialization": True, "weight_names": "tf", "max_shard_size": "100MB"},
}
LABELS = {
    "h5": "from_pretrained, tf_model.h5", "h5_sharded": "from_pretrained, 100MB h5 shards",
    "pt_safetensors": "from_pretrained, PyTorch model.safetensors", "save_h5": "save_pretrained, tf_model.h5",
    "save_h5_sharded": "save_pretrained, 100MB h5 shards",
    "save_safetensors": "save_pretrained, model.safetensors (TF names)",
    "save_safetensors_sharded": "save_pretrained, 100MB safetensors shards (TF names)",
}


def measure(operation: str, directory: str) -> dict:
    import tensorflow  # noqa: F401  (imported before timing: its start-up is not what we measure)

    from tfmodels import TFBertForSequenceClassification

    def peak_rss_gb() -> float:
        return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)

    start = time.perf_counter()
    row = {"operation": operation}
    if operation in SAVES:
        model = TFBertForSequenceClassification(_config())
        model.build_in_name_scope()
        row["model_built_peak_rss_gb"] = peak_rss_gb()
        start = time.perf_counter()
        model.save_pretrained(os.path.join(directory, "save_out"), **SAVES[operation])
    else:
        model = TFBertForSequenceClassification.from_pretrained(os.path.join(directory, operation))
    row.update(seconds=round(time.perf_counter() - start, 2), peak_rss_gb=peak_rss_gb(),
               parameters=model.num_parameters())
    return row


def _rss_gb(field: str) -> float:
    """`VmRSS` (now) or `VmHWM` (the peak since the last reset) of this process, in GiB."""
    with open("/proc/self/status") as handle:
        line = next(line for line in handle if line.startswith(field + ":"))
    return int(line.split()[1]) / 2**20


def _reset_peak_rss() -> None:
    with open("/proc/self/clear_refs", "w") as handle:  # "5" resets VmHWM to the current RSS (Linux)
        handle.write("5")


def measure_pytorch_save(kind: str, library: str, directory: str) -> dict:
    """Load `kind`'s checkpoint (`bert` or `llama`) with `library` (`tfmodels` or `transformers`), then time and
    measure one `save_pretrained` in the PyTorch layout."""
    import numpy as np

    source = os.path.join(directory, "pt_safetensors" if kind == "bert" else "llama")
    out = os.path.join(directory, f"saved_{kind}_{library}")
    if library == "tfmodels":
        import tensorflow  # noqa: F401

        import tfmodels

        name = "TFBertForSequenceClassification" if kind == "bert" else "TFLlamaForCausalLM"
        model = getattr(tfmodels, name).from_pretrained(source, dtype=None if kind == "bert" else "bfloat16")
        sizes = [int(np.prod(w.shape)) * w.dtype.itemsize for w in model.pytorch_weights()]
        save = lambda: model.save_pretrained(out, safe_serialization=True, max_shard_size="5GB")  # noqa: E731
    else:
        import torch
        import transformers

        name = "BertForSequenceClassification" if kind == "bert" else "LlamaForCausalLM"
        model = getattr(transformers, name).from_pretrained(source, dtype=torch.float32 if kind == "bert"
                                                            else torch.bfloat16)
        for parameter in model.parameters():  # page in the mapped weights, as a forward pass would
            parameter.detach().view(torch.int16 if parameter.dtype == torch.bfloat16 else torch.int32).sum()
        sizes = [p.numel() * p.element_size() for p in model.state_dict().values()]
        save = lambda: model.save_pretrained(out, max_shard_size="5GB")  # noqa: E731
    synced = [0.0]  # seconds in fsync: our saves make their files durable before replacing the previous ones
    fsync = os.fsync

    def timed_fsync(fd: int) -> None:
        begin = time.perf_counter()
        fsync(fd)
        synced[0] += time.perf_counter() - begin

    os.fsync = timed_fsync
    os.sync()  # no dirty pages of earlier writes slow this save's
    before = _rss_gb("VmRSS")
    _reset_peak_rss()
    start = time.perf_counter()
    save()
    seconds = time.perf_counter() - start
    files = [f for f in os.listdir(out) if f.endswith(".safetensors")]
    durable = seconds
    if library == "transformers":  # its files' data reach the disk only now
        for name in os.listdir(out):
            with open(os.path.join(out, name), "rb") as handle:
                fsync(handle.fileno())
        durable = time.perf_counter() - start
    return {"kind": kind, "library": library, "seconds": round(seconds, 2), "fsync_seconds": round(synced[0], 2),
            "durable_seconds": round(durable, 2),
            "rss_before_gb": round(before, 3),
            "peak_gb": round(_rss_gb("VmHWM"), 3), "largest_tensor_gb": round(max(sizes) / 2**30, 3),
            "bytes": sum(os.path.getsize(os.path.join(out, f)) for f in files)}


def pytorch_layout(llama_layers: int, repeats: int) -> None:
    """The PyTorch-layout saves, ours against transformers', for BERT-base (fp32) and the 1.1B Llama (bf16):
    `repeats` rounds, each save in a fresh process, the two libraries alternating which goes first (a save's time
    depends on what the disk and the page cache went through just before it)."""
    import statistics

    from benchmarks.llm_load import SHAPE, write_checkpoint

    env = {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "3"}
    with tempfile.TemporaryDirectory() as directory:
        subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {ROOT!r}); "
                        f"from benchmarks.checkpoint_io import prepare; prepare({directory!r})"],
                       check=True, env=env)
        os.makedirs(os.path.join(directory, "llama"))
        write_checkpoint(os.path.join(directory, "llama"), {**SHAPE, "num_hidden_layers": llama_layers}, 500 * 10**6)
        print("| model | library | save seconds, median (min-max) | of which fsync | until on disk | "
              "save adds, max (GiB) | largest tensor (GiB) |\n|---|---|---|---|---|---|---|")
        for kind in ("bert", "llama"):
            rows: dict[str, list[dict]] = {"tfmodels": [], "transformers": []}
            for round_ in range(repeats):
                for library in (("tfmodels", "transformers") if round_ % 2 == 0 else ("transformers", "tfmodels")):
                    out = subprocess.run([sys.executable, __file__, "--pytorch-save", kind, library, directory],
                                         check=True, env=env, capture_output=True, text=True).stdout
                    rows[library].append(json.loads(out.strip().splitlines()[-1]))
                    shutil.rmtree(os.path.join(directory, f"saved_{kind}_{library}"))
            for library, runs in rows.items():
                seconds = [row["seconds"] for row in runs]
                print(f"| {kind} | {library} | {statistics.median(seconds):.2f} ({min(seconds)}-{max(seconds)}) | "
                      f"{statistics.median(row['fsync_seconds'] for row in runs):.2f} | "
                      f"{statistics.median(row['durable_seconds'] for row in runs):.2f} | "
                      f"{max(row['peak_gb'] - row['rss_before_gb'] for row in runs):.3f} | "
                      f"{runs[0]['largest_tensor_gb']} |", flush=True)
            ratio = (statistics.median(row["seconds"] for row in rows["tfmodels"])
                     / statistics.median(row["seconds"] for row in rows["transformers"]))
            durable = (statistics.median(row["durable_seconds"] for row in rows["tfmodels"])
                       / statistics.median(row["durable_seconds"] for row in rows["transformers"]))
            print(f"| {kind} | ratio of medians | {ratio:.2f}x | | {durable:.2f}x | | |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pytorch-layout", action="store_true", help="PyTorch-layout saves against transformers")
    parser.add_argument("--llama-layers", type=int, default=22, help="with --pytorch-layout: the Llama's depth")
    parser.add_argument("--repeats", type=int, default=3, help="with --pytorch-layout: saves per library and model")
    parser.add_argument("--measure", nargs=2, metavar=("OPERATION", "DIRECTORY"), help=argparse.SUPPRESS)
    parser.add_argument("--pytorch-save", nargs=3, metavar=("KIND", "LIBRARY", "DIRECTORY"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    sys.path.insert(0, ROOT)  # tfmodels and benchmarks from this checkout
    if args.measure:
        print(json.dumps(measure(*args.measure)))
        return
    if args.pytorch_save:
        print(json.dumps(measure_pytorch_save(*args.pytorch_save)))
        return
    if args.pytorch_layout:
        pytorch_layout(args.llama_layers, args.repeats)
        return
    env = {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "3"}
    with tempfile.TemporaryDirectory() as directory:
        subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {ROOT!r}); "
                        f"from benchmarks.checkpoint_io import prepare; prepare({directory!r})"],
                       check=True, env=env)
        rows = []
        for operation in LABELS:
            out = subprocess.run([sys.executable, __file__, "--measure", operation, directory], check=True, env=env,
                                 capture_output=True, text=True).stdout
            rows.append(json.loads(out.strip().splitlines()[-1]))
            print(rows[-1], flush=True)
    print("\n| operation | seconds | peak RSS (GB) | peak RSS with the model built, before saving (GB) |\n"
          "|---|---|---|---|")
    for row in rows:
        print(f"| {LABELS[row['operation']]} | {row['seconds']} | {row['peak_rss_gb']} | "
              f"{row.get('model_built_peak_rss_gb', '')} |")


if __name__ == "__main__":
    main()
