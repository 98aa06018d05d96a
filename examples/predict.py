"""Classify sentences with the model the main job trained: label and probability per text.

    python examples/predict.py "a gorgeous film" "the plot is thin"            # the saved model (tfmodels)
    python examples/predict.py --export "a gorgeous film"                       # the TF Serving export (TF only)
    python examples/predict.py --transformers "a gorgeous film"                 # transformers' pipeline (PyTorch)
    python examples/predict.py --output-dir DIR "a gorgeous film"               # another run's output directory

The saved model is `DIR/model` (weights, config with the label names, `tokenizer.json`); the export is the newest
version under `DIR/serving`, called through its `serving_default` signature without Keras or tfmodels. The saved
model is in the PyTorch layout, so `--transformers` answers with a `transformers.pipeline("text-classification")`
(PyTorch, `pip install torch==2.13.0 transformers`) on the same folder, without TensorFlow.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from text_classification import classify_with_export, encode_padded, import_tensorflow_quietly


def classify_with_model(model_dir: str, texts, max_length: int = 128) -> list[tuple[str, float]]:
    """`[(label, probability), ...]` for `texts` from a `save_pretrained` folder holding `tokenizer.json`.

    Example:
        >>> classify_with_model("text_classification_output/model", ["a gorgeous film"])
        [('positive', 0.98...)]
    """
    import numpy as np

    import_tensorflow_quietly()
    from tfmodels import TFAutoModelForSequenceClassification

    model = TFAutoModelForSequenceClassification.from_pretrained(model_dir)
    batch = encode_padded(os.path.join(model_dir, "tokenizer.json"), texts, max_length)
    logits = np.asarray(model(batch, training=False)["logits"], np.float64)
    probabilities = np.exp(logits - logits.max(-1, keepdims=True))
    probabilities /= probabilities.sum(-1, keepdims=True)
    return [(model.config.id2label[int(row.argmax())], float(row.max())) for row in probabilities]


def classify_with_transformers(model_dir: str, texts) -> list[tuple[str, float]]:
    """`[(label, probability), ...]` for `texts` from transformers' (PyTorch) text-classification pipeline on the
    saved folder: what anyone on the Hub would run on the model.

    Example:
        >>> classify_with_transformers("text_classification_output/model", ["a gorgeous film"])
        [('positive', 0.98...)]
    """
    try:
        import transformers
    except ImportError:
        sys.exit("error: --transformers needs transformers with PyTorch: pip install torch==2.13.0 transformers")
    classifier = transformers.pipeline("text-classification", model=model_dir, device="cpu")
    return [(row["label"], float(row["score"])) for row in classifier(list(texts))]


def newest_version(export_base: str) -> str:
    versions = [name for name in os.listdir(export_base) if name.isdigit()] if os.path.isdir(export_base) else []
    if not versions:
        sys.exit(f"error: no TF Serving export (a numbered version folder) in {export_base}; run "
                 "examples/text_classification.py first or pass --output-dir.")
    return os.path.join(export_base, max(versions, key=int))


def main(argv: list[str] | None = None) -> list[tuple[str, float]]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("texts", nargs="+", metavar="TEXT")
    parser.add_argument("--output-dir", default="text_classification_output",
                        help="the main job's output directory (holds model/ and serving/)")
    parser.add_argument("--export", action="store_true", help="use the TF Serving export, TensorFlow only")
    parser.add_argument("--transformers", action="store_true",
                        help="use transformers' pipeline (PyTorch) on the saved model")
    parser.add_argument("--max-length", type=int, default=128)
    args = parser.parse_args(argv)

    model_dir = os.path.join(args.output_dir, "model")
    if not os.path.isfile(os.path.join(model_dir, "config.json")):
        sys.exit(f"error: no saved model in {model_dir} (config.json is missing); run "
                 "examples/text_classification.py first or pass --output-dir.")
    if args.export:
        with open(os.path.join(model_dir, "config.json"), encoding="utf-8") as handle:
            id2label = {int(k): v for k, v in json.load(handle)["id2label"].items()}
        results = classify_with_export(newest_version(os.path.join(args.output_dir, "serving")),
                                       os.path.join(model_dir, "tokenizer.json"), id2label, args.texts,
                                       args.max_length)
    elif args.transformers:
        results = classify_with_transformers(model_dir, args.texts)
    else:
        results = classify_with_model(model_dir, args.texts, args.max_length)
    for text, (label, probability) in zip(args.texts, results):
        print(f"{label}\t{probability:.3f}\t{text}")
    return results


if __name__ == "__main__":
    main()
