"""The `melodex` command line: one argparse parser, one module per group of subcommands.

Subcommand modules are imported only when their command runs, so `melodex check` answers
in a fraction of a second and never loads torch.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from melodex_studio import __version__

#: subcommand -> (module that implements it, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "new": ("melodex_studio.cli.project_commands", "create a new .mlx project"),
    "info": ("melodex_studio.cli.project_commands", "show a project's sections, takes and sizes"),
    "check": ("melodex_studio.cli.project_commands", "validate a .mlx file (exit 2 if invalid)"),
    "generate": ("melodex_studio.cli.render_commands", "generate a song from a prompt"),
    "render": ("melodex_studio.cli.render_commands", "render a new take of one section"),
    "export": ("melodex_studio.cli.export_commands", "export the mixdown, per-section files, MIDI"),
    "train": ("melodex_studio.cli.train_commands", "train a part of the built-in model"),
    "eval": ("melodex_studio.cli.eval_commands", "score a model: codec, adapter or generation"),
}


class CliError(Exception):
    """A problem the user can fix; printed as one line, exit code 2."""


def build_parser(selected: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="melodex", description="Melodex Studio command line.")
    parser.add_argument("--version", action="version", version=f"melodex {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        sp = sub.add_parser(name, help=help_text, description=help_text)
        if name == selected:
            importlib.import_module(module_name).add_arguments(name, sp)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    selected = next((a for a in args_list if not a.startswith("-")), None)
    if selected not in SUBCOMMANDS:
        selected = None
    parser = build_parser(selected)
    args = parser.parse_args(args_list)
    if args.command is None:
        parser.print_help()
        return 0
    module = importlib.import_module(SUBCOMMANDS[args.command][0])
    try:
        return int(module.run(args.command, args) or 0)
    except CliError as exc:
        print(f"melodex {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"melodex {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
