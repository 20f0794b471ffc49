"""`melodex train codec --from-model`: a run started from a model folder's codec, with the
phase path the fine-tune asks for; bad starts are one line and leave no run behind."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from melodex_studio.cli import main as cli
from melodex_studio.engine.codec import Codec
from melodex_studio.training.codec_runs import load_codec_from_run


def test_from_model_starts_a_run_with_the_asked_phase_path(tmp_path: Path) -> None:
    model, run, data = tmp_path / "model", tmp_path / "run", tmp_path / "data"
    data.mkdir()
    shipped = Codec.tiny_random(seed=1)
    shipped.save_pretrained(model)
    code = cli.main(["train", "codec", "--from-model", str(model), "--run", str(run),
                     "--data", str(data), "--steps", "0", "--vocoder-setting",
                     "phase_init=network", "--vocoder-setting", "refine_iterations=0"])
    assert code == 0
    state = json.loads((run / "checkpoint" / "state.json").read_text())
    assert state["config"]["vocoder"]["phase_init"] == "network"
    assert state["config"]["vocoder"]["refine_iterations"] == 0
    started = load_codec_from_run(run)
    assert torch.equal(started.vocoder.head.weight, shipped.vocoder.head.weight)


def test_bad_starts_are_one_line_and_write_no_run(tmp_path: Path, capsys) -> None:
    data, run = tmp_path / "data", tmp_path / "run"
    data.mkdir()
    args = ["train", "codec", "--run", str(run), "--data", str(data), "--steps", "0"]
    assert cli.main([*args, "--from-model", str(tmp_path / "missing")]) == 2
    assert "cannot start from" in capsys.readouterr().err
    assert not (run / "checkpoint").exists()
    assert cli.main([*args, "--from-model", str(tmp_path), "--combine", "a", "b"]) == 2
    assert "pick one" in capsys.readouterr().err
