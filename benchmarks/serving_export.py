"""Export time and serving latency of a BERT-base-sized TFBertForSequenceClassification (110M parameters).

    python benchmarks/serving_export.py [--runs 50] [--batches 1,8] [--reference-python /path/to/python]

Export: `serving.export_saved_model` with verification (the default) and without. Latency: the exported
`serving_default` signature, loaded with `tf.saved_model.load` in a fresh process that imports only TensorFlow, at
each batch size x sequence length 128, after 5 warm-up calls, for our float32 export, our bfloat16 export
(`dtype="bfloat16"`) and an int8 export (Keras' `model.quantize("int8")`, then exported); with
`--reference-python` (an environment with transformers 4.x and tf-keras) also the reference's float32 export
(`save_pretrained(saved_model=True)`) of the same architecture, timed the same way. Prints a Markdown table with
each p50 as a ratio to the reference's (or to our float32 export without one).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

LATENCY = """
import json, sys, time
import numpy as np
import tensorflow as tf
loaded = tf.saved_model.load(sys.argv[1])
serve = loaded.signatures["serving_default"]
ids = tf.constant(np.random.default_rng(0).integers(1, 30000, (int(sys.argv[3]), 128)), tf.int32)
inputs = {"input_ids": ids, "attention_mask": tf.ones_like(ids), "token_type_ids": tf.zeros_like(ids)}
for _ in range(5):
    serve(**inputs)
times = []
for _ in range(int(sys.argv[2])):
    start = time.perf_counter()
    serve(**inputs)["logits"].numpy()
    times.append((time.perf_counter() - start) * 1000)
print(json.dumps({"p50_ms": round(float(np.percentile(times, 50)), 1),
                  "p90_ms": round(float(np.percentile(times, 90)), 1)}))
"""

# The reference's own export: transformers 4.x TF (tf-keras), `save_pretrained(saved_model=True)`.
REFERENCE_EXPORT = """
import sys
from transformers import BertConfig, TFBertForSequenceClassification
model = TFBertForSequenceClassification(BertConfig(num_labels=2))
model(model.dummy_inputs)
model.save_pretrained(sys.argv[1], saved_model=True)
"""


def latency(path: str, runs: int, batch: int) -> dict:
    """p50/p90 of `serving_default` in a fresh TensorFlow-only process."""
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    out = subprocess.run([sys.executable, "-c", LATENCY, path, str(runs), str(batch)], env=env, check=True,
                         capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--batches", default="1,8")
    parser.add_argument("--reference-python", default=None,
                        help="a Python with transformers 4.x and tf-keras: also time the reference's export")
    args = parser.parse_args()
    sys.path.insert(0, ROOT)
    import keras

    from serving import export_saved_model
    from tfmodels import BertConfig, TFBertForSequenceClassification

    keras.utils.set_random_seed(0)
    model = TFBertForSequenceClassification(BertConfig(num_labels=2))
    rows = []
    with tempfile.TemporaryDirectory() as directory:
        start = time.perf_counter()
        export_saved_model(model, directory, version=1, verify=False)
        unverified = time.perf_counter() - start
        start = time.perf_counter()
        exports = {"tfmodels float32": export_saved_model(model, directory, version=2)}
        verified = time.perf_counter() - start
        exports["tfmodels bfloat16"] = export_saved_model(model, directory, version=3, dtype="bfloat16")
        quantized = TFBertForSequenceClassification(model.config)
        quantized.set_weights(model.get_weights())
        quantized.quantize("int8")
        exports["tfmodels int8 (Keras quantize)"] = export_saved_model(quantized, directory, version=4)
        if args.reference_python:
            reference = os.path.join(directory, "reference")
            subprocess.run([args.reference_python, "-c", REFERENCE_EXPORT, reference], check=True,
                           capture_output=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3",
                                                     "TF_USE_LEGACY_KERAS": "1"})
            exports = {"reference float32 (transformers 4.57 TF)": os.path.join(reference, "saved_model", "1"),
                       **exports}
        for batch in (int(b) for b in args.batches.split(",")):
            measured = {name: latency(path, args.runs, batch) for name, path in exports.items()}
            base = next(iter(measured.values()))["p50_ms"]
            for name, figures in measured.items():
                rows.append(f"| {name} | {batch} x 128 | {figures['p50_ms']} | {figures['p90_ms']} | "
                            f"{figures['p50_ms'] / base:.2f} |")
    print("| measure | value |\n|---|---|")
    print(f"| export, verified (default) | {verified:.1f} s |")
    print(f"| export, verify=False | {unverified:.1f} s |\n")
    print(f"| export | batch | p50 (ms) | p90 (ms) | p50 / {next(iter(exports))}'s |\n|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
