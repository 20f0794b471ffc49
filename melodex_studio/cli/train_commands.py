"""`melodex train ...`: build the built-in model's parts (the corpus so far).

Training code is imported only when one of these commands runs (it pulls in torch)."""

from __future__ import annotations

import argparse
from pathlib import Path

from melodex_studio.cli.main import CliError


def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="target", metavar="PART", required=True)
    corpus = sub.add_parser("corpus", help="render the procedural training corpus to disk")
    corpus.add_argument("--n", type=int, default=2000, help="number of examples")
    corpus.add_argument("--out", type=Path, default=None, help="corpus folder")
    corpus.add_argument("--seed", type=int, default=0)
    corpus.add_argument("--workers", type=int, default=1)
    corpus.add_argument("--seconds-max", type=float, default=12.0)


def run(name: str, args: argparse.Namespace) -> int:
    handler = {
        ("train", "corpus"): _train_corpus,
    }[(name, args.target)]
    return handler(args)


def _train_corpus(args: argparse.Namespace) -> int:
    from melodex_studio.training.corpus import default_corpus_dir, train_corpus_main

    if args.n < 1:
        raise CliError("--n must be at least 1")
    train_corpus_main(
        n=args.n,
        out_dir=args.out or default_corpus_dir(),
        seed=args.seed,
        workers=args.workers,
        seconds_max=args.seconds_max,
    )
    return 0
