"""Entry point: `python -m melodex_studio` opens the studio; with arguments it is the CLI."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping

USAGE = """usage: melodex-studio [PROJECT.mlx]
       melodex-studio COMMAND ...   (the command line: melodex-studio --help-commands)

Opens the studio window, on PROJECT.mlx when one is given.
  -h, --help        this text
  --version         the version
  --help-commands   the command line's commands (generate, render, export, ...)
"""


def display_problem(environ: Mapping[str, str], platform: str) -> str | None:
    """Why the window cannot open here, or None. On Linux with no X11 or Wayland display Qt
    would abort with a message about platform plugins; this says what is actually missing."""
    if not platform.startswith("linux") or environ.get("QT_QPA_PLATFORM"):
        return None
    if environ.get("DISPLAY") or environ.get("WAYLAND_DISPLAY"):
        return None
    return ("melodex-studio: no display to open the window on (DISPLAY and WAYLAND_DISPLAY are "
            "not set). Start it from a desktop session, or run the command line instead: "
            "`melodex --help`.")


def main() -> int:
    """Start the studio window, or run the command line when arguments are given."""
    first = sys.argv[1] if len(sys.argv) > 1 else ""
    command = first and not first.startswith("-") and not first.endswith(".mlx")
    if command or first == "--help-commands":
        from melodex_studio.cli.main import main as cli_main

        return cli_main(None if command else [])  # no command: the CLI prints its help
    if first in ("-h", "--help"):
        print(USAGE, end="")
        return 0
    if first == "--version":
        from melodex_studio import __version__

        print(f"melodex-studio {__version__}")
        return 0
    problem = display_problem(os.environ, sys.platform)
    if problem is not None:
        print(problem, file=sys.stderr)
        return 1
    from melodex_studio.ui.app import run_studio

    return run_studio(sys.argv)


if __name__ == "__main__":
    sys.exit(main())
