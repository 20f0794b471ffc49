"""Entry point: `python -m melodex_studio` opens the studio; with arguments it is the CLI."""

from __future__ import annotations

import sys


def main() -> int:
    """Start the studio window, or run the command line when arguments are given."""
    first = sys.argv[1] if len(sys.argv) > 1 else ""
    if first and not first.startswith("-") and not first.endswith(".mlx"):
        from melodex_studio.cli.main import main as cli_main

        return cli_main()
    from melodex_studio.ui.app import run_studio

    return run_studio(sys.argv)


if __name__ == "__main__":
    sys.exit(main())
