"""`melodex eval codec` and `melodex eval generate` through the real CLI entry."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from melodex_studio.cli import main as cli

pytest.importorskip("librosa")
soundfile = pytest.importorskip("soundfile")

SR = 24000


@pytest.fixture(autouse=True)
def registered(monkeypatch):
    monkeypatch.setitem(cli.SUBCOMMANDS, "eval",
                        ("melodex_studio.cli.eval_commands", "score a model"))


def _tiny_codec_model(folder: Path) -> Path:
    from melodex_studio.engine.codec import Codec

    Codec.tiny_random(0).save_pretrained(folder)
    return folder


def _corpus(folder: Path, labelled_bpm: float = 120.0) -> Path:
    """Two held-out examples and one training example, each a 4/4 click-and-chord loop."""
    (folder / "examples").mkdir(parents=True)
    (folder / "corpus.json").write_text(json.dumps({"format": 1, "n": 3}))
    t = np.arange(int(8.0 * SR)) / SR
    beat = (t * labelled_bpm / 60.0) % 1.0
    tone = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 261.63, 329.63))  # A minor
    audio = (0.05 * tone + 0.5 * np.sin(2 * np.pi * 1500 * t) * np.exp(-beat * 40)) * 0.5
    bars = [{"chord": "Am", "drums": [0] * 16}] * 4
    for index, held_out in enumerate((True, True, False)):
        soundfile.write(str(folder / "examples" / f"{index:08d}.flac"), audio, SR)
        label = {"style": "pop", "key": "A minor", "meter": "4/4", "bpm": labelled_bpm,
                 "plan": {"steps_per_bar": 16, "bars": bars}}
        document = {"index": index, "held_out": held_out, "audio": f"{index:08d}.flac",
                    "labels": {"sections": [label]}}
        (folder / "examples" / f"{index:08d}.json").write_text(json.dumps(document))
    return folder


def test_eval_parses_both_parts_with_defaults() -> None:
    parser = cli.build_parser("eval")
    args = parser.parse_args(["eval", "generate", "--sections", "5", "--guidance", "3"])
    assert (args.target, args.sections, args.guidance, args.steps) == ("generate", 5, 3.0, None)
    assert args.bars == 8 and args.threads == 2 and args.random_models is None
    args = parser.parse_args(["eval", "codec", "--clips", "4", "--seconds", "2.5"])
    assert (args.target, args.clips, args.seconds, args.png_dir) == ("codec", 4, 2.5, None)
    with pytest.raises(SystemExit):
        parser.parse_args(["eval"])  # a part is required


@pytest.mark.parametrize("part", ["codec", "generate"])
def test_missing_model_folder_is_a_clear_error(tmp_path, capsys, part) -> None:
    missing = tmp_path / "nowhere"
    assert cli.main(["eval", part, "--model", str(missing), "--data", str(tmp_path)]
                    if part == "codec" else ["eval", part, "--model", str(missing)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"melodex eval: no model folder at {missing}")
    assert "Traceback" not in err


def test_generate_names_the_missing_parts_of_a_codec_only_folder(tmp_path, capsys) -> None:
    model = _tiny_codec_model(tmp_path / "model")
    assert cli.main(["eval", "generate", "--model", str(model), "--sections", "1"]) == 2
    err = capsys.readouterr().err
    assert "missing its structure, renderer" in err and "melodex train structure" in err


def test_codec_needs_a_codec_and_a_corpus(tmp_path, capsys) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli.main(["eval", "codec", "--model", str(empty), "--data", str(tmp_path)]) == 2
    assert "has no codec" in capsys.readouterr().err
    model = _tiny_codec_model(tmp_path / "model")
    assert cli.main(["eval", "codec", "--model", str(model), "--data",
                     str(tmp_path / "no-corpus")]) == 2
    assert "no corpus at" in capsys.readouterr().err


def test_codec_scores_the_held_out_split_and_writes_json_and_pngs(tmp_path, capsys) -> None:
    model = _tiny_codec_model(tmp_path / "model")
    corpus = _corpus(tmp_path / "corpus")
    out = tmp_path / "codec.json"
    assert cli.main(["eval", "codec", "--model", str(model), "--data", str(corpus),
                     "--clips", "5", "--seconds", "1.5", "--griffin-lim-iterations", "4",
                     "--speed-seconds", "2",
                     "--png-dir", str(tmp_path / "png"), "--json", str(out)]) == 0
    assert "codec evaluation on 2 held-out clips" in capsys.readouterr().out
    result = json.loads(out.read_text())
    assert result["clips"] == 2 and result["model"] == str(model)
    assert set(result["methods"]) == {"griffin_lim", "vocoder", "round_trip"}
    assert len(list((tmp_path / "png").glob("*.png"))) == 4


def test_generate_runs_on_random_models_with_the_corpus_ceiling(tmp_path, capsys) -> None:
    corpus = _corpus(tmp_path / "corpus")
    out = tmp_path / "gen.json"
    assert cli.main(["eval", "generate", "--random-models", "tiny", "--model",
                     str(tmp_path / "none"), "--sections", "1", "--bars", "4", "--steps", "2",
                     "--reference-data", str(corpus), "--json", str(out), "--quiet",
                     "--key-retries", "0"]) == 0
    table = capsys.readouterr().out
    assert "generation evaluation: 1 section," in table and "corpus" in table
    result = json.loads(out.read_text())
    assert result["overall"]["sections"] == 1 and result["settings"]["steps"] == 2
    assert result["settings"]["key_retries"] == 0 and result["overall"]["extra_renders"] == 0
    reference = result["reference"]
    assert reference["sections"] == 2  # the held-out pair, not the training example
    assert reference["tempo_within_2pct"] == 1.0
    assert reference["key_correct"] == 1.0 and reference["chord_agreement"] == 1.0


def test_generate_judges_style_with_a_probe_and_takes_a_guidance_interval(tmp_path, capsys):
    from tests.style_corpus import write_corpus

    corpus = write_corpus(tmp_path / "styles")
    out = tmp_path / "gen.json"
    assert cli.main(["eval", "generate", "--random-models", "tiny", "--model",
                     str(tmp_path / "none"), "--sections", "1", "--bars", "4", "--steps", "2",
                     "--style-data", str(corpus), "--style-examples", "12",
                     "--guidance-interval", "0", "0.75", "--free-tonic",
                     "--json", str(out),
                     "--quiet"]) == 0
    table = capsys.readouterr().out
    assert "guidance 4.0 in t 0.25-1" in table and "style: a classifier" in table
    result = json.loads(out.read_text())
    assert result["settings"]["guidance_interval"] == [0.25, 1.0]  # progress 0-0.75 in t
    assert result["settings"]["keep_tonic_mode"] is False
    assert result["style_probe"]["trained_on"] == 12
    assert result["style_probe"]["styles"] == ["ambient", "house"]
    assert result["overall"]["style_correct"] in (0.0, 1.0)
    assert result["sections"][0]["style_result"]["requested"] == result["sections"][0]["style"]


@pytest.mark.parametrize("extra, message", [
    (["--guidance-interval", "0.8", "0.2"], "--guidance-interval needs 0 <= START < END <= 1"),
    (["--style-data", "nowhere"], "no corpus at nowhere"),
    (["--key-retries", "-1"], "--key-retries must be 0 or more"),
])
def test_generate_refuses_a_bad_interval_or_style_corpus(tmp_path, capsys, extra, message):
    assert cli.main(["eval", "generate", "--random-models", "tiny", "--model",
                     str(tmp_path / "none"), "--sections", "1", *extra]) != 0
    assert message in capsys.readouterr().err


def test_generate_refuses_a_style_corpus_of_one_style(tmp_path, capsys) -> None:
    corpus = _corpus(tmp_path / "corpus")  # pop only
    assert cli.main(["eval", "generate", "--random-models", "tiny", "--model",
                     str(tmp_path / "none"), "--sections", "1", "--bars", "4", "--steps", "2",
                     "--style-data", str(corpus), "--quiet"]) != 0
    assert "cannot fit the style probe" in capsys.readouterr().err
