"""`melodex train renderer` and `melodex train adapter` refuse a missing corpus or codec with
one line, before any training starts, and `melodex train structure` hands its layout flag to
the run (through the real CLI entry)."""

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


@pytest.mark.parametrize("flag, expected", [([], None), (["--steps-per-group", "2"], 2)])
def test_structure_steps_per_group_reaches_the_new_run(
        flag: list[str], expected: int | None, tmp_path: Path, monkeypatch, capsys) -> None:
    """The flag sets the layout of the run's model; without it the run's own (or the shipping)
    config stands. Training itself is replaced by a recorder: its tests live with it."""
    from melodex_studio.engine import text_encoder
    from melodex_studio.training import structure_train

    seen = {}

    def record(run, steps, *args, config=None, **options) -> None:
        seen["config"] = config

    monkeypatch.setattr(structure_train, "train_structure", record)
    monkeypatch.setattr(text_encoder, "MiniLMTextEncoder", lambda **options: None)
    args = ["train", "structure", "--run", str(tmp_path), "--steps", "1", "--eval", "0", *flag]
    assert cli.main(args) == 2  # nothing was trained, so nothing to score
    assert "holds no trained structure transformer" in capsys.readouterr().err
    config = seen["config"]
    assert (config and config.steps_per_group) == expected
    if config is not None:
        assert config.styles == structure_train.shipping_config().styles
