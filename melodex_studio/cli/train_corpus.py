"""`melodex train corpus`: render the procedural training corpus (cached, never committed)."""

from __future__ import annotations

import argparse
from pathlib import Path

from melodex_studio.cli.main import CliError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--n", type=int, default=2000, help="number of examples")
    parser.add_argument("--out", type=Path, default=None, help="corpus folder")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seconds-max", type=float, default=12.0)


def run(args: argparse.Namespace) -> int:
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
