"""Export time and serving latency of a BERT-base-sized TFBertForSequenceClassification (110M parameters).

    python benchmarks/serving_export.py [--runs 50]

Export: `serving.export_saved_model` with verification (the default) and without. Latency: the exported
`serving_default` signature, loaded with `tf.saved_model.load` in a fresh process that imports only TensorFlow,
batch 1, sequence length 128, after 5 warm-up calls.
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
ids = tf.constant(np.random.default_rng(0).integers(1, 30000, (1, 128)), tf.int32)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=50)
    args = parser.parse_args()
    sys.path.insert(0, ROOT)
    from serving import export_saved_model
    from tfmodels import BertConfig, TFBertForSequenceClassification

    model = TFBertForSequenceClassification(BertConfig(num_labels=2))
    with tempfile.TemporaryDirectory() as directory:
        start = time.perf_counter()
        export_saved_model(model, directory, version=1, verify=False)
        unverified = time.perf_counter() - start
        start = time.perf_counter()
        path = export_saved_model(model, directory, version=2)
        verified = time.perf_counter() - start
        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
        out = subprocess.run([sys.executable, "-c", LATENCY, path, str(args.runs)], env=env, check=True,
                             capture_output=True, text=True).stdout
    latency = json.loads(out.strip().splitlines()[-1])
    print("| measure | value |\n|---|---|")
    print(f"| export, verified (default) | {verified:.1f} s |")
    print(f"| export, verify=False | {unverified:.1f} s |")
    print(f"| serving_default latency p50, batch 1 x 128 | {latency['p50_ms']} ms |")
    print(f"| serving_default latency p90, batch 1 x 128 | {latency['p90_ms']} ms |")


if __name__ == "__main__":
    main()
