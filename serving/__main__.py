"""Command line: `python -m serving export MODEL_DIR EXPORT_BASE [--version N] [--no-verify]`.

The only place in `serving` that imports `tfmodels` (lazily), to load a checkpoint with the auto classes.
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m serving", description="Export checkpoints for TF Serving.")
    commands = parser.add_subparsers(dest="command", required=True)
    export = commands.add_parser("export", help="export a checkpoint directory as a verified SavedModel")
    export.add_argument("model_dir", help="directory written by save_pretrained (any supported layout)")
    export.add_argument("export_base", help="TF Serving model base path; the export goes to EXPORT_BASE/<version>")
    export.add_argument("--version", type=int, default=None, help="version number (default: the next free one)")
    export.add_argument("--no-verify", action="store_true", help="skip loading the export back to check it")
    args = parser.parse_args(argv)

    from serving.export import export_saved_model
    from tfmodels.auto import load_pretrained

    try:
        model = load_pretrained(args.model_dir)
        path = export_saved_model(model, args.export_base, version=args.version, verify=not args.no_verify)
    except (OSError, ValueError, RuntimeError) as err:
        print(f"error: {err}".splitlines()[0], file=sys.stderr)
        return 1
    print(path)
    print(f"Serve it with: tensorflow_model_server --model_name=model --model_base_path={args.export_base}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
