"""LoRA fine-tuning of a small Llama-shaped model: adapt a base model to Aesop's fables with `enable_lora`, save the
adapter in PEFT's layout, and export the merged model for TF Serving.

    python examples/lora_causal_lm.py [--output-dir lora_run] [--rank 8] [--epochs 40] [--quick]

1. A base model: a 2-layer `TFLlamaForCausalLM` built from a config and trained in full on
   `examples/data/tiny_text.txt` (standing in for a pretrained checkpoint), saved and reloaded with
   `from_pretrained`.
2. LoRA: adapters of rank `--rank` on every attention and MLP projection (`q_proj` ... `down_proj`), all other
   weights frozen; trained with `fit` on the fables of `examples/data/fables/` (one example per sentence, batches
   padded by `TFDataCollatorForLanguageModeling`, so padding is left out of the loss). The loss on the fables is
   printed before and after, with a greedy generation from the same prompt.
3. `save_pretrained(..., adapter_only=True)`: `adapter_config.json` + `adapter_model.safetensors` with PEFT's names.
4. `merge_lora()` and a verified TF Serving export with a `generate` signature (`serving/1`).

Bytes are the tokens (a 256-symbol vocabulary, 0 pads), so no tokenizer is needed. `--quick` is a reduced run
(the tests' mode), which leaves the export unverified (the verification runs it in a TensorFlow-only process).
"""

from __future__ import annotations

import argparse
import json
import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))
TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def encode(text: str) -> list[int]:
    return list(text.encode("utf-8"))


def decode(tokens) -> str:
    return bytes(int(t) for t in tokens if t > 2).decode("utf-8", errors="replace")


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", default="lora_run")
    parser.add_argument("--base-steps", type=int, default=300, help="full training steps of the base model")
    parser.add_argument("--epochs", type=int, default=40, help="LoRA epochs over the fables")
    parser.add_argument("--rank", type=int, default=8)
    parser.add_argument("--alpha", type=float, default=16.0)
    parser.add_argument("--prompt", default="The fox ")
    parser.add_argument("--new-tokens", type=int, default=48)
    parser.add_argument("--quick", action="store_true",
                        help="a reduced run: a few steps, short generations, the export not verified")
    args = parser.parse_args(argv)
    if args.quick:
        args.base_steps, args.epochs, args.new_tokens = 10, 2, 8

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import datasets
    import keras
    import numpy as np
    import tensorflow as tf

    from keras_integration import TFDataCollatorForLanguageModeling
    from serving import export_saved_model
    from tfmodels import LlamaConfig, TFLlamaForCausalLM

    keras.utils.set_random_seed(0)
    out = os.path.abspath(args.output_dir)
    os.makedirs(out, exist_ok=True)

    # 1. The base model, trained in full on another text.
    config = LlamaConfig(vocab_size=256, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256, pad_token_id=0,
                         bos_token_id=1, eos_token_id=2, tie_word_embeddings=False)
    base_text = open(os.path.join(HERE, "data", "tiny_text.txt"), encoding="utf-8").read().replace("\n", " ")
    ids = np.array(encode(base_text), np.int32)
    windows = np.stack([ids[s:s + 48] for s in range(len(ids) - 48)])
    base_data = tf.data.Dataset.from_tensor_slices({"input_ids": windows, "labels": windows})
    base_data = base_data.shuffle(len(windows), seed=0).repeat().batch(16)
    base = TFLlamaForCausalLM(config)
    base.compile(optimizer=keras.optimizers.Adam(3e-3))
    base.fit(base_data, steps_per_epoch=args.base_steps, epochs=1, verbose=2)
    base.save_pretrained(os.path.join(out, "base"), safe_serialization=True)
    model = TFLlamaForCausalLM.from_pretrained(os.path.join(out, "base"))

    # 2. LoRA on the fables: one example per sentence, padded per batch, padding left out of the loss.
    fables = open(os.path.join(HERE, "data", "fables", "fables.txt"), encoding="utf-8").read()
    sentences = [s for s in re.split(r"(?<=[.!?\"])\s+", fables.replace("\n", " ")) if len(s) > 8]
    dataset = datasets.Dataset.from_dict({"input_ids": [encode(s)[:192] for s in sentences]})
    collate = TFDataCollatorForLanguageModeling(pad_token_id=0, pad_to_multiple_of=32)
    train = model.prepare_tf_dataset(dataset, batch_size=8, shuffle=True, collate_fn=collate, seed=0)
    evaluation = model.prepare_tf_dataset(dataset, batch_size=8, shuffle=False, collate_fn=collate)
    prompt = np.array([encode(args.prompt)], np.int32)
    greedy = {"max_new_tokens": args.new_tokens, "min_new_tokens": args.new_tokens}

    model.compile(optimizer=keras.optimizers.Adam(1e-2))
    loss_before = float(model.evaluate(evaluation, verbose=0))
    before = model.generate(prompt, **greedy).numpy()[0]
    adapted = model.enable_lora(args.rank, target_modules=TARGETS, alpha=args.alpha)
    trainable, total = model.num_parameters(only_trainable=True), model.num_parameters()
    print(f"LoRA rank {args.rank} on {len(adapted)} projections: {trainable:,} trainable of {total:,} parameters "
          f"({100 * trainable / total:.1f}%)")
    model.compile(optimizer=keras.optimizers.Adam(1e-2))  # again: the trainable weights changed
    history = model.fit(train, epochs=args.epochs, verbose=2).history["loss"]
    loss_after = float(model.evaluate(evaluation, verbose=0))
    after = model.generate(prompt, **greedy).numpy()[0]
    print(f"loss on the fables: {loss_before:.3f} before LoRA, {loss_after:.3f} after")
    print(f"before: {decode(before)!r}")
    print(f" after: {decode(after)!r}")

    # 3. The adapter in PEFT's layout; 4. the merged model, exported for TF Serving.
    model.save_pretrained(os.path.join(out, "adapter"), adapter_only=True)
    logits = np.asarray(model(prompt).logits)
    model.merge_lora()
    export = export_saved_model(model, os.path.join(out, "serving"), version=1, generate=True,
                                generation_kwargs=greedy, verify=not args.quick)
    print(f"adapter: {os.path.join(out, 'adapter')}; merged model exported to {export}")
    results = {"loss_before": loss_before, "loss_after": loss_after, "history": history,
               "before": before.tolist(), "after": after.tolist(), "prompt_logits": logits.tolist(),
               "adapted": adapted, "trainable_parameters": trainable, "parameters": total}
    with open(os.path.join(out, "results.json"), "w", encoding="utf-8") as handle:
        json.dump(results, handle)
    return results


if __name__ == "__main__":
    main()
