"""`melodex-studio`: help and version without a window, and a plain message, not a Qt abort,
where there is no display to open one on."""

from __future__ import annotations

import sys

import pytest

import melodex_studio.__main__ as entry
from melodex_studio import __version__


def _run(monkeypatch: pytest.MonkeyPatch, *args: str) -> int:
    monkeypatch.setattr(sys, "argv", ["melodex-studio", *args])
    return entry.main()


def test_help_and_version_need_no_window(monkeypatch, capsys) -> None:
    monkeypatch.setattr(entry, "display_problem", lambda *_: pytest.fail("checked a display"))
    assert _run(monkeypatch, "--help") == 0
    assert "usage: melodex-studio [PROJECT.mlx]" in capsys.readouterr().out
    assert _run(monkeypatch, "--version") == 0
    assert capsys.readouterr().out.strip() == f"melodex-studio {__version__}"
    assert _run(monkeypatch, "--help-commands") == 0
    assert "generate" in capsys.readouterr().out


def test_no_display_is_a_message_and_exit_1(monkeypatch, capsys) -> None:
    for name in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    assert _run(monkeypatch, "song.mlx") == 1
    assert "no display to open the window on" in capsys.readouterr().err


@pytest.mark.parametrize(("environ", "platform", "problem"), [
    ({}, "linux", True),
    ({"DISPLAY": ":0"}, "linux", False),
    ({"WAYLAND_DISPLAY": "wayland-0"}, "linux", False),
    ({"QT_QPA_PLATFORM": "offscreen"}, "linux", False),
    ({}, "darwin", False),
    ({}, "win32", False),
])
def test_display_problem(environ: dict[str, str], platform: str, problem: bool) -> None:
    assert (entry.display_problem(environ, platform) is not None) is problem
