"""`melodex train renderer` and `melodex train adapter` refuse a missing corpus or codec with
one line, before any training starts (through the real CLI entry)."""

from __future__ import annotations

from pathlib import Path

import pytest

from melodex_studio.cli import main as cli


@pytest.mark.parametrize("part", ["renderer", "adapter"])
def test_a_missing_corpus_or_codec_is_one_line_and_trains_nothing(
        part: str, tmp_path: Path, capsys) -> None:
    run = tmp_path / "run"
    empty = tmp_path / "empty"
    empty.mkdir()
    args = ["train", part, "--run", str(run), "--steps", "1"]
    assert cli.main([*args, "--data", str(tmp_path / "none"), "--model", str(empty)]) == 2
    assert "no corpus at" in capsys.readouterr().err
    assert cli.main([*args, "--data", str(empty), "--model", str(empty)]) == 2
    err = capsys.readouterr().err
    assert "has no codec" in err and "melodex train codec --export" in err
    assert not run.exists()


def test_the_adapter_refuses_a_width_below_one(tmp_path: Path, capsys) -> None:
    assert cli.main(["train", "adapter", "--run", str(tmp_path / "run"), "--width", "0"]) == 2
    assert "--width must be at least 1" in capsys.readouterr().err
