"""Re-create `train.jsonl` and `validation.jsonl` in this folder from GLUE's SST-2 TSV files.

    python examples/data/sst2/make_subset.py [--source ../shared/data/sst2] [--size 6000] [--min-words 5] [--seed 0]

`validation.jsonl` is the whole dev set (872 sentences) as it is. `train.jsonl` is a seeded, label-balanced sample
of the training phrases with at least `--min-words` words: `size / 2` negatives and `size / 2` positives drawn
without replacement by `numpy.random.default_rng(seed)`, then shuffled together. Each line is
`{"text": ..., "label": 0 or 1}` with the text stripped of surrounding whitespace. Deterministic: re-running it with
the same arguments re-creates the files byte for byte.
"""

from __future__ import annotations

import argparse
import csv
import json
import os

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def read_tsv(path: str, text_column: str) -> list[dict]:
    with open(path, encoding="utf-8", newline="") as handle:
        return [{"text": row[text_column].strip(), "label": int(row["label"])}
                for row in csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE)]


def balanced_sample(rows: list[dict], size: int, min_words: int, seed: int) -> list[dict]:
    """`size // 2` rows of each label among those with at least `min_words` words, in a seeded random order."""
    rng = np.random.default_rng(seed)
    chosen = []
    for label in (0, 1):
        pool = [row for row in rows if row["label"] == label and len(row["text"].split()) >= min_words]
        if len(pool) < size // 2:
            raise SystemExit(f"error: only {len(pool)} phrases with label {label} have {min_words}+ words; "
                             f"asked for {size // 2}. Lower --size or --min-words.")
        chosen += [pool[i] for i in rng.choice(len(pool), size // 2, replace=False)]
    return [chosen[i] for i in rng.permutation(len(chosen))]


def write_jsonl(path: str, rows: list[dict]) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        handle.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", default=os.path.join(HERE, "..", "..", "..", "..", "shared", "data", "sst2"),
                        help="folder holding GLUE's SST-2 train.tsv and dev.tsv")
    parser.add_argument("--size", type=int, default=6000)
    parser.add_argument("--min-words", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    train = read_tsv(os.path.join(args.source, "train.tsv"), "sentence")
    validation = read_tsv(os.path.join(args.source, "dev.tsv"), "text")
    write_jsonl(os.path.join(HERE, "train.jsonl"), balanced_sample(train, args.size, args.min_words, args.seed))
    write_jsonl(os.path.join(HERE, "validation.jsonl"), validation)


if __name__ == "__main__":
    main()
