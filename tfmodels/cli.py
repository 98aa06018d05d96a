"""The `tfmodels` command: convert checkpoints, export them for TF Serving, inspect them.

    tfmodels convert SRC DST [--safetensors [--tf-names]] [--max-shard-size 5GB]
    tfmodels export SRC EXPORT_BASE [--version N] [--no-verify] [--generate [--max-new-tokens N] [--num-beams N]
                                                                        [--batch-sizes 1,8] [--no-xla]]
    tfmodels inspect PATH

Errors print one line (`error: ...`) and exit with status 1; `--help` documents each command.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections import Counter

from tqdm.auto import tqdm

from tfmodels.auto import load_pretrained


def convert(args: argparse.Namespace) -> None:
    """`tfmodels convert SRC DST`: load any readable checkpoint and save it as `tf_model.h5`, or with
    `--safetensors` in the PyTorch layout that transformers reads (`--tf-names`: safetensors with TF names).

    Example:
        $ tfmodels convert ./tf-bert ./pt-bert --safetensors --max-shard-size 500MB
    """
    if args.tf_names and not args.safetensors:
        raise ValueError("--tf-names applies to --safetensors (tf_model.h5 always holds TF names).")
    with tqdm(total=2, desc="convert", unit="step") as steps:  # closed before an error is printed
        model = load_pretrained(args.src)
        steps.update()
        model.save_pretrained(args.dst, max_shard_size=args.max_shard_size, safe_serialization=args.safetensors,
                              weight_names="tf" if args.tf_names else None)
        steps.update()
    print(f"{type(model).__name__} ({model.num_parameters():,} parameters) saved to {args.dst}: "
          f"{', '.join(sorted(os.listdir(args.dst)))}")


def export(args: argparse.Namespace) -> None:
    """`tfmodels export SRC EXPORT_BASE`: a verified TF Serving export of a checkpoint.

    With `--generate` (language models) the export also has the `generate` signatures (see
    `serving.export_saved_model`), with `--max-new-tokens` and `--num-beams` fixed in them: XLA programs (TF
    Serving needs `--xla_cpu_compilation_enabled=true`), or plain graphs with `--no-xla`. `--batch-sizes` are the
    row counts that get a program of their own (the `allowed_batch_sizes` of TF Serving's batching).

    Example:
        $ tfmodels export ./tf-bert ./exports/bert --version 2
        $ tfmodels export ./gpt2 ./exports/gpt2 --generate --max-new-tokens 32 --batch-sizes 1,8
    """
    from serving.export import export_saved_model

    with tqdm(total=2, desc="export", unit="step") as steps:
        model = load_pretrained(args.src)
        steps.update()
        generation = None
        if args.generate:
            generation = {"max_new_tokens": args.max_new_tokens, "num_beams": args.num_beams,
                          "pad_to_multiple_of": args.pad_to_multiple_of, "jit_compile": not args.no_xla,
                          "batch_sizes": args.batch_sizes}
        path = export_saved_model(model, args.export_base, version=args.version, verify=not args.no_verify,
                                  generate=args.generate, generation_kwargs=generation)
        steps.update()
    print(path)
    print(f"Serve it with: tensorflow_model_server --model_name=model --model_base_path="
          f"{os.path.abspath(args.export_base)}")


def inspect_checkpoint(args: argparse.Namespace) -> None:
    """`tfmodels inspect PATH`: describe a checkpoint from its files alone (no model is built).

    Example:
        $ tfmodels inspect ./tf-bert
    """
    from tfmodels.checkpoints.h5_format import read_h5
    from tfmodels.checkpoints.pytorch_format import read_pytorch_bin
    from tfmodels.checkpoints.safetensors_format import read_safetensors
    from tfmodels.configuration import PretrainedConfig
    from tfmodels.resolve import KIND_H5, KIND_PT_BIN, KIND_SAFETENSORS, resolve_local

    readers = {KIND_H5: read_h5, KIND_SAFETENSORS: read_safetensors, KIND_PT_BIN: read_pytorch_bin}
    resolved = resolve_local(args.path)
    names: dict[str, tuple] = {}
    dtypes: Counter = Counter()
    convention = None
    for file in tqdm(resolved.files, desc="reading", unit="file", disable=len(resolved.files) < 3):
        weight_file = readers[resolved.kind](file)
        try:
            convention = weight_file.names
            for name, lazy in weight_file.tensors.items():
                names[name] = tuple(lazy.shape)
                dtypes[str(lazy.dtype)] += 1
        finally:
            weight_file.close()
    parameters = sum(int(_prod(shape)) for shape in names.values())
    directory = args.path if os.path.isdir(args.path) else os.path.dirname(args.path)
    print(f"path:        {args.path}")
    print(f"format:      {resolved.kind} ({'TF' if convention == 'tf' else 'PyTorch'} names)"
          f"{', sharded' if resolved.is_sharded else ''}")
    print(f"files:       {len(resolved.files)}: {', '.join(os.path.basename(f) for f in resolved.files)}")
    print(f"dtypes:      {', '.join(f'{d} x{n}' for d, n in sorted(dtypes.items()))}")
    print(f"parameters:  {parameters:,} in {len(names)} tensors")
    if os.path.isfile(os.path.join(directory, "config.json")):
        config = PretrainedConfig.get_config_dict(directory)
        keys = ("model_type", "architectures", "hidden_size", "n_embd", "num_hidden_layers", "n_layer",
                "num_attention_heads", "n_head", "vocab_size", "num_labels")
        print("config:      " + ", ".join(f"{k}={config[k]}" for k in keys if k in config))
    print("weights:")
    for name, shape in names.items():
        print(f"  {name} {list(shape)}")


def _prod(shape: tuple) -> int:
    result = 1
    for dim in shape:
        result *= dim
    return result


def _batch_sizes(text: str) -> tuple[int, ...]:
    """`--batch-sizes 1,8` as `(1, 8)`."""
    try:
        return tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated row counts such as 1,8; received {text!r}")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the `tfmodels` command (one sub-command per action).

    Example:
        >>> build_parser().parse_args(["inspect", "ckpt"]).path
        'ckpt'
    """
    parser = argparse.ArgumentParser(prog="tfmodels", description="Hugging Face-compatible models on Keras 3.")
    commands = parser.add_subparsers(dest="command", required=True)
    p = commands.add_parser("convert", help="convert any readable checkpoint to tf_model.h5 or, with --safetensors, "
                                            "the PyTorch layout transformers reads")
    p.add_argument("src", help="checkpoint directory or Hub id")
    p.add_argument("dst", help="output directory")
    p.add_argument("--safetensors", action="store_true",
                   help="write model.safetensors in the PyTorch layout (transformers, vLLM) instead of tf_model.h5")
    p.add_argument("--tf-names", action="store_true", help="with --safetensors: keep TF weight names")
    p.add_argument("--max-shard-size", default="5GB", help="shard above this size (e.g. 5GB, 500MB, 1GiB)")
    p.set_defaults(run=convert)
    p = commands.add_parser("export", help="export a checkpoint as a verified TF Serving SavedModel")
    p.add_argument("src", help="checkpoint directory or Hub id")
    p.add_argument("export_base", help="model base path; the export goes to EXPORT_BASE/<version>")
    p.add_argument("--version", type=int, default=None, help="version number (default: the next free one)")
    p.add_argument("--no-verify", action="store_true", help="skip loading the export back to check it")
    p.add_argument("--generate", action="store_true", help="add the generate signatures (language models)")
    p.add_argument("--max-new-tokens", type=int, default=32, help="with --generate: new tokens at most (32)")
    p.add_argument("--num-beams", type=int, default=1, help="with --generate: 1 greedy (default), >1 beam search")
    p.add_argument("--pad-to-multiple-of", type=int, default=8,
                   help="with --generate: pad prompts to a multiple of this length (8)")
    p.add_argument("--batch-sizes", type=_batch_sizes, default=(1,), metavar="1,8",
                   help="with --generate: row counts that get a program of their own (default: 1)")
    p.add_argument("--no-xla", action="store_true",
                   help="with --generate: plain TensorFlow graphs, for a TF Serving without XLA (slower)")
    p.set_defaults(run=export)
    p = commands.add_parser("inspect", help="describe a checkpoint: format, shards, dtypes, parameters, names")
    p.add_argument("path", help="checkpoint directory or weights file")
    p.set_defaults(run=inspect_checkpoint)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `tfmodels` console script."""
    args = build_parser().parse_args(argv)
    try:
        args.run(args)
    except (OSError, ValueError, RuntimeError, ImportError) as err:
        message = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        print(f"error: {message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
