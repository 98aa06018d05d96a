"""Train a small GPT-2 from a config on a bundled text, then generate with `model.generate`: greedy, sampling and
beam search (the key/value cache is reused step to step).

    python examples/causal_lm.py [--steps 300] [--prompt "The river"] [--xla]

Bytes are the tokens (a 256-symbol vocabulary), so no tokenizer is needed. With `--xla` each strategy runs as one
compiled XLA program.
"""

from __future__ import annotations

import argparse
import os

HERE = os.path.dirname(os.path.abspath(__file__))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--length", type=int, default=48)
    parser.add_argument("--prompt", default="The river")
    parser.add_argument("--new-tokens", type=int, default=40)
    parser.add_argument("--xla", action="store_true", help="compile each generation with XLA")
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
    prompt = np.array([list(args.prompt.encode())], np.int32)
    # min_new_tokens: byte 0 is the eos token; always produce --new-tokens bytes
    common = {"max_new_tokens": args.new_tokens, "min_new_tokens": args.new_tokens, "jit_compile": args.xla}
    strategies = {
        "greedy": {},
        "sampling": {"do_sample": True, "temperature": 0.8, "top_k": 20, "seed": 0},
        "beam": {"num_beams": 4, "no_repeat_ngram_size": 3},
    }
    texts, tokens = {}, {}
    for name, options in strategies.items():
        tokens[name] = model.generate(prompt, **common, **options).numpy()[0].tolist()
        texts[name] = bytes(tokens[name]).decode("utf-8", errors="replace")
        print(f"{name:>8}: {texts[name]!r}")
    print(f"final loss {history['loss'][-1]:.3f}")
    return {"loss": history["loss"][-1], "sample": texts["greedy"], "tokens": tokens["greedy"], "texts": texts,
            "all_tokens": tokens}


if __name__ == "__main__":
    main()
