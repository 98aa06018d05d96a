"""Load a checkpoint (any HF layout: TF h5, safetensors, PyTorch), run it, and save it in every layout we write.

Until the end-to-end fine-tuning example exists this is the package's main job:

    python examples/load_run_save.py [CHECKPOINT_DIR] [OUTPUT_DIR]

With no arguments it loads the reference BERT classifier written by transformers 4.57 (PyTorch safetensors),
compares its logits with the reference's, and saves it as h5, sharded h5, safetensors in the PyTorch layout
(what transformers reads) and safetensors with TF names.
"""

from __future__ import annotations

import argparse
import os
import tempfile

import numpy as np

from tfmodels import TFAutoModelForSequenceClassification

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "..", "tests", "fixtures", "reference", "bert_seqcls")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", nargs="?", default=os.path.join(FIXTURE, "pt_safetensors"))
    parser.add_argument("output", nargs="?", default=None)
    args = parser.parse_args()

    model = TFAutoModelForSequenceClassification.from_pretrained(args.checkpoint)
    print(f"Loaded {type(model).__name__} from {args.checkpoint}: {model.num_parameters():,} parameters")
    if os.path.abspath(args.checkpoint).startswith(os.path.abspath(FIXTURE)):
        io = np.load(os.path.join(FIXTURE, "io.npz"))
        inputs = {k[len("input."):]: io[k] for k in io.files if k.startswith("input.")}
        logits = model(inputs).logits.numpy()
        print("logits:\n", logits)
        print(f"max |ours - reference PyTorch| = {np.abs(logits - io['pt.logits']).max():.2e}")
    else:
        logits = model(model.dummy_inputs).logits.numpy()
        print("logits on dummy inputs:", logits)

    output = args.output or tempfile.mkdtemp(prefix="tfmodels-example-")
    for name, kwargs in {"h5": {}, "sharded_h5": {"max_shard_size": "20KB"},
                         "pytorch_safetensors": {"safe_serialization": True},
                         "tf_safetensors": {"safe_serialization": True, "weight_names": "tf"}}.items():
        target = os.path.join(output, name)
        model.save_pretrained(target, **kwargs)
        reloaded = TFAutoModelForSequenceClassification.from_pretrained(target)
        same = np.array_equal(reloaded(model.dummy_inputs).logits.numpy(), model(model.dummy_inputs).logits.numpy())
        print(f"saved {name:19s} -> {target} ({len(os.listdir(target))} files), reload identical: {same}")


if __name__ == "__main__":
    main()
