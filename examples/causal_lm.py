"""Train a small GPT-2 from a config on a bundled text, then generate greedily with the key/value cache.

    python examples/causal_lm.py [--steps 300] [--prompt "The river"]

Bytes are the tokens (a 256-symbol vocabulary), so no tokenizer is needed. Generation feeds one token at a time
with `past_key_values`; the script checks that this gives the same tokens as re-running the full sequence.
"""

from __future__ import annotations

import argparse
import os

HERE = os.path.dirname(os.path.abspath(__file__))


def generate(model, prompt_ids, new_tokens: int, use_cache: bool = True) -> list[int]:
    """Greedy decoding; with `use_cache` each step feeds only the newest token and the cache."""
    import numpy as np

    ids = list(prompt_ids)
    if not use_cache:
        for _ in range(new_tokens):
            logits = model({"input_ids": np.array([ids], np.int32)}, use_cache=False).logits
            ids.append(int(np.argmax(logits[0, -1])))
        return ids
    out = model({"input_ids": np.array([ids], np.int32)}, use_cache=True)
    for _ in range(new_tokens):
        ids.append(int(np.argmax(out.logits[0, -1])))
        out = model({"input_ids": np.array([[ids[-1]]], np.int32)}, past_key_values=out.past_key_values,
                    use_cache=True)
    return ids


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--length", type=int, default=48)
    parser.add_argument("--prompt", default="The river")
    parser.add_argument("--new-tokens", type=int, default=40)
    args = parser.parse_args(argv)

    import keras
    import numpy as np
    import tensorflow as tf

    from tfmodels import GPT2Config, TFGPT2LMHeadModel

    keras.utils.set_random_seed(0)
    text = open(os.path.join(HERE, "data", "tiny_text.txt"), "rb").read().replace(b"\n", b" ")
    data = np.frombuffer(text, np.uint8).astype(np.int32)
    starts = np.arange(0, len(data) - args.length - 1)
    windows = np.stack([data[s:s + args.length] for s in starts])
    dataset = tf.data.Dataset.from_tensor_slices({"input_ids": windows, "labels": windows})
    dataset = dataset.shuffle(len(windows), seed=0).repeat().batch(16)

    config = GPT2Config(vocab_size=256, n_positions=128, n_embd=64, n_layer=2, n_head=4, bos_token_id=0,
                        eos_token_id=0)
    model = TFGPT2LMHeadModel(config)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss="auto")
    history = model.fit(dataset, steps_per_epoch=args.steps, epochs=1, verbose=2).history
    prompt = list(args.prompt.encode())
    cached = generate(model, prompt, args.new_tokens)
    uncached = generate(model, prompt, args.new_tokens, use_cache=False)
    if cached != uncached:
        raise SystemExit("error: cached and full-sequence greedy decoding disagree")
    sample = bytes(cached).decode("utf-8", errors="replace")
    print(f"final loss {history['loss'][-1]:.3f}\nsample: {sample!r}")
    return {"loss": history["loss"][-1], "sample": sample, "tokens": cached}


if __name__ == "__main__":
    main()
