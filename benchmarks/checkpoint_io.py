"""Wall time and peak RSS of from_pretrained / save_pretrained for a BERT-base-sized model (110M parameters).

    python benchmarks/checkpoint_io.py            # all measurements, each in a fresh process

Each measurement runs in its own subprocess so that peak RSS (ru_maxrss) belongs to that operation alone; it
includes TensorFlow itself (about 0.7 GB). Checkpoints are written once into a temporary directory. For saves, the
peak RSS with the model built (before saving) is printed too: the difference is what the save itself adds (the
writers hold one weight at a time, so it stays near the largest weight, the 94 MB word embeddings: measured 0.09 GB
in all four save layouts, where the writer that gathered every array first added 0.44 GB to an unsharded
safetensors save).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _config():
    from tfmodels import BertConfig

    return BertConfig(num_labels=2)  # bert-base: 12 layers, hidden 768, vocab 30522


def prepare(directory: str) -> None:
    """Write the checkpoints the loads read: tf_model.h5, 100MB h5 shards, PyTorch-named model.safetensors."""
    import numpy as np

    from tfmodels import TFBertForSequenceClassification
    from tfmodels.checkpoints.names import strip_model_name, tf_to_pt_array, tf_to_pt_name
    from tfmodels.checkpoints.safetensors_format import write_safetensors

    model = TFBertForSequenceClassification(_config())
    model.save_pretrained(os.path.join(directory, "h5"))
    model.save_pretrained(os.path.join(directory, "h5_sharded"), max_shard_size="100MB")
    pt_dir = os.path.join(directory, "pt_safetensors")
    os.makedirs(pt_dir)
    tensors = {}
    for variable in model.weights:
        name, transpose = tf_to_pt_name(strip_model_name(variable.path), len(variable.shape))
        tensors[name] = np.ascontiguousarray(tf_to_pt_array(variable.numpy(), transpose))
    write_safetensors(os.path.join(pt_dir, "model.safetensors"), tensors, {"format": "pt"})
    model.config.save_pretrained(pt_dir)


SAVES = {
    "save_h5": {},
    "save_h5_sharded": {"max_shard_size": "100MB"},
    "save_safetensors": {"safe_serialization": True},
    "save_safetensors_sharded": {"safe_serialization": True, "max_shard_size": "100MB"},
}
LABELS = {
    "h5": "from_pretrained, tf_model.h5", "h5_sharded": "from_pretrained, 100MB h5 shards",
    "pt_safetensors": "from_pretrained, PyTorch model.safetensors", "save_h5": "save_pretrained, tf_model.h5",
    "save_h5_sharded": "save_pretrained, 100MB h5 shards", "save_safetensors": "save_pretrained, model.safetensors",
    "save_safetensors_sharded": "save_pretrained, 100MB safetensors shards",
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


def main() -> None:
    if len(sys.argv) == 3:
        print(json.dumps(measure(sys.argv[1], sys.argv[2])))
        return
    env = {**os.environ, "PYTHONPATH": ROOT, "TF_CPP_MIN_LOG_LEVEL": "3"}
    with tempfile.TemporaryDirectory() as directory:
        subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {ROOT!r}); "
                        f"from benchmarks.checkpoint_io import prepare; prepare({directory!r})"],
                       check=True, env=env)
        rows = []
        for operation in LABELS:
            out = subprocess.run([sys.executable, __file__, operation, directory], check=True, env=env,
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
