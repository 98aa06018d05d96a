"""Hand a model trained here to the rest of the ecosystem: save it in the PyTorch layout and load it in transformers.

    python examples/to_transformers.py [CHECKPOINT] [--output-dir DIR] [--dtype bfloat16]

`save_pretrained(dir, safe_serialization=True)` writes what transformers (PyTorch), vLLM, TGI and the Hub read:
`model.safetensors` (or its shards and `model.safetensors.index.json`) with PyTorch's keys and shapes, `config.json`
naming the PyTorch class and the weights' dtype, and `generation_config.json` for language models. With no argument
the example takes the reference GPT-2 language model of the test fixtures (TF h5, written by transformers 4.57),
saves it, and, where transformers and torch are installed, loads the folder with `AutoModelForCausalLM` and checks
that logits and greedy generations agree with ours.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURE = os.path.join(HERE, "..", "tests", "fixtures", "reference", "gpt2_lm", "tf_h5")


def compare_in_transformers(directory: str, model, prompt: np.ndarray) -> dict:
    """Load `directory` with transformers (PyTorch) and compare its logits and greedy tokens with `model`'s."""
    import torch
    import transformers

    auto = transformers.AutoModelForCausalLM if model.can_generate() and not model.config.is_encoder_decoder \
        else transformers.AutoModel
    pt_model, info = auto.from_pretrained(directory, output_loading_info=True, dtype="auto")
    problems = {key: value for key, value in info.items() if value}
    with torch.no_grad():
        theirs = pt_model(input_ids=torch.tensor(prompt, dtype=torch.long))
    ours = model({"input_ids": prompt})
    name = "logits" if "logits" in ours else "last_hidden_state"
    difference = float(np.max(np.abs(np.asarray(ours[name], np.float32) - getattr(theirs, name).float().numpy())))
    result = {"class": type(pt_model).__name__, "loading_problems": problems, "output": name,
              "max_difference": difference}
    if name == "logits":
        ours_tokens = np.asarray(model.generate(prompt, max_new_tokens=8, do_sample=False))
        theirs_tokens = pt_model.generate(torch.tensor(prompt, dtype=torch.long), max_new_tokens=8,
                                          do_sample=False).numpy()
        result["same_tokens"] = bool(np.array_equal(ours_tokens, theirs_tokens))
    return result


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", nargs="?", default=FIXTURE, help="any checkpoint directory or Hub id")
    parser.add_argument("--output-dir", default=None, help="where to save (default: a temporary directory)")
    parser.add_argument("--dtype", default=None, help="load and save in this dtype (e.g. bfloat16)")
    parser.add_argument("--max-shard-size", default="5GB")
    args = parser.parse_args(argv)

    from tfmodels.auto import load_pretrained

    model = load_pretrained(args.checkpoint, dtype=args.dtype)
    output = args.output_dir or tempfile.mkdtemp(prefix="tfmodels-to-transformers-")
    model.save_pretrained(output, safe_serialization=True, max_shard_size=args.max_shard_size)
    with open(os.path.join(output, "config.json"), encoding="utf-8") as handle:
        config = json.load(handle)
    print(f"{type(model).__name__} saved in the PyTorch layout to {output}: {', '.join(sorted(os.listdir(output)))}")
    print(f"config.json: architectures={config['architectures']}, dtype={config['dtype']}")
    result = {"output": output, "files": sorted(os.listdir(output)), "config": config}
    try:
        import torch  # noqa: F401
        import transformers  # noqa: F401
    except ImportError:
        print("transformers with torch is not installed: `pip install torch==2.13.0 transformers` to check the folder "
              "there.")
        return result
    prompt = np.array([[5, 17, 42, 8, 23, 11]], np.int32) % model.config.vocab_size
    result.update(compare_in_transformers(output, model, prompt))
    print(f"transformers loaded it as {result['class']} (missing/unexpected/mismatched: "
          f"{result['loading_problems'] or 'none'}); max |ours - transformers| of {result['output']} = "
          f"{result['max_difference']:.2e}" + (f"; same greedy tokens: {result['same_tokens']}"
                                              if "same_tokens" in result else ""))
    return result


if __name__ == "__main__":
    main()
