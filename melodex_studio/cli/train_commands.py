"""`melodex train PART`: build one part of the built-in model (corpus, codec, structure, renderer,
adapter, key-hearing).

Each part's options and runner live in their own module, `melodex_studio.cli.train_<part>`,
with ``add_arguments(parser)`` and ``run(args) -> int``. Training code (torch) is imported only
inside ``run``, so ``melodex train --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
from types import ModuleType

#: part -> one-line help; the module is melodex_studio.cli.train_<part> (- as _)
PARTS: dict[str, str] = {
    "corpus": "render the procedural training corpus to disk",
    "codec": "train the latent autoencoder and the vocoder",
    "structure": "train the structure transformer (the bar-level planner)",
    "renderer": "train the latent diffusion renderer",
    "adapter": "train the codec's plan adapter (decodes a take's pitches from its plan)",
    "key-hearing": "fit the planner's ear: which key a plan is heard in once rendered",
}


def _module(part: str) -> ModuleType:
    return importlib.import_module(f"melodex_studio.cli.train_{part.replace('-', '_')}")


def add_arguments(name: str, parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="target", metavar="PART", required=True)
    for part, help_text in PARTS.items():
        _module(part).add_arguments(sub.add_parser(part, help=help_text, description=help_text))


def run(name: str, args: argparse.Namespace) -> int:
    return int(_module(args.target).run(args) or 0)
