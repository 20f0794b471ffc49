"""`melodex generate` and `melodex render` on tiny random models, through the real CLI entry."""

from __future__ import annotations

import json

import pytest

from melodex_studio.cli import main as cli
from melodex_studio.cli.render_commands import parse_bar_ranges
from melodex_studio.store import open_project

TINY = ["--tiny-random-model", "--quiet", "--steps", "4", "--threads", "2"]


@pytest.fixture(autouse=True)
def registered(monkeypatch):
    # Until the lead registers them in SUBCOMMANDS, register the two commands for the test.
    for name in ("generate", "render"):
        monkeypatch.setitem(cli.SUBCOMMANDS, name, ("melodex_studio.cli.render_commands", name))


def test_generate_then_render_every_operation(tmp_path, capsys) -> None:
    song = tmp_path / "song.mlx"
    args = [
        "generate",
        "dusty lo-fi keys",
        "--bpm",
        "100",
        "--key",
        "A minor",
        "--sections",
        "Intro:1,Verse:2",
        "--seed",
        "7",
        "--out",
        str(song),
        "--wav",
        str(tmp_path / "song.wav"),
        *TINY,
    ]
    assert cli.main(args) == 0
    assert (tmp_path / "song.wav").stat().st_size > 0
    with open_project(song) as opened:
        first = opened.project
    assert all(s.active_take is not None and s.plan is not None for s in first.sections)
    # A take the worker rendered again to bring it into the key says so, with the seed kept.
    noted = [line for line in capsys.readouterr().out.splitlines() if "kept seed" in line]
    assert noted and all(" render" in line and line.startswith("Generate ") for line in noted)
    kept = {line.rsplit("kept seed ", 1)[1].rstrip(")") for line in noted}
    assert kept <= {str(s.active_take.seed) for s in first.sections}
    assert {s.prompt for s in first.sections} == {"dusty lo-fi keys"}

    for extra in (
        ["--op", "repaint", "--bars", "2"],
        ["--op", "vary", "--strength", "0.5", "--variation", "0.7"],
        ["--op", "retake", "--count", "2"],
        ["--op", "extend", "--add-bars", "1"],
    ):
        assert cli.main(["render", str(song), "--section", "Verse", *extra, *TINY]) == 0
    with open_project(song) as opened:
        verse = opened.project.section_by_name("Verse")
    operations = [str(take.operation) for take in verse.takes]
    assert operations == ["generate", "repaint", "vary", "retake", "retake", "extend"]
    varied = verse.takes[2]
    assert (varied.strength, varied.variation, varied.parent_id) == (0.5, 0.7, verse.takes[1].id)
    assert varied.final_latent != verse.takes[1].final_latent
    assert verse.length_bars == 3 and verse.active_take.operation == "extend"
    capsys.readouterr()
    assert cli.main(["info", str(song), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert [len(s["takes"]) for s in summary["sections"]] == [1, 6]


def test_user_errors_are_one_line(tmp_path, capsys) -> None:
    song = tmp_path / "song.mlx"
    assert cli.main(["generate", "x", "--sections", "A:1", "--out", str(song), *TINY]) == 0
    capsys.readouterr()
    assert cli.main(["render", str(song), "--section", "Nope", *TINY]) == 2
    assert "no section is named 'Nope'" in capsys.readouterr().err
    assert (
        cli.main(["render", str(song), "--section", "A", "--op", "repaint", "--bars", "3-4", *TINY])
        == 2
    )
    assert "the section has bars 1-1" in capsys.readouterr().err
    assert cli.main(["generate", "x", "--out", str(song), *TINY]) == 2
    assert "already exists" in capsys.readouterr().err
    missing = tmp_path / "no-model"
    assert (
        cli.main(["generate", "x", "--out", str(tmp_path / "b.mlx"), "--model-dir", str(missing)])
        == 2
    )
    err = capsys.readouterr().err.strip()
    assert "is missing" in err and "melodex train" in err and "\n" not in err


def test_bar_ranges_count_from_one() -> None:
    assert parse_bar_ranges("5-8", 8) == [(4, 8)]
    assert parse_bar_ranges("2, 5-6", 8) == [(1, 2), (4, 6)]


def test_import_a_recording_then_repaint_it(tmp_path, capsys) -> None:
    import numpy as np
    import soundfile

    song = tmp_path / "song.mlx"
    assert cli.main(["generate", "x", "--sections", "A:2", "--out", str(song), *TINY]) == 0
    riff = tmp_path / "riff.flac"
    soundfile.write(riff, np.random.default_rng(1).uniform(-0.3, 0.3, 48000), 48000)
    capsys.readouterr()
    assert cli.main(["render", str(song), "--section", "A", "--op", "import", "--file", str(riff),
                     *TINY]) == 0
    assert "Import riff.flac into A: take" in capsys.readouterr().out
    assert cli.main(["render", str(song), "--section", "A", "--op", "repaint", "--bars", "2",
                     *TINY]) == 0
    with open_project(song) as opened:
        section = opened.project.section_by_name("A")
    assert [str(t.operation) for t in section.takes] == ["generate", "import", "repaint"]
    assert section.takes[2].parent_id == section.takes[1].id
    assert cli.main(["render", str(song), "--section", "A", "--op", "import", *TINY]) == 2
    assert "needs --file" in capsys.readouterr().err
    assert cli.main(["render", str(song), "--section", "A", "--op", "import", "--file",
                     str(riff), "--at-bar", "3", *TINY]) == 2
    assert "--at-bar 3: the section has bars 1-2" in capsys.readouterr().err
    assert cli.main(["render", str(song), "--section", "A", "--op", "import", "--file",
                     str(riff), "--at-bar", "2", *TINY]) == 0
    assert "Import riff.flac into A at bar 2: take" in capsys.readouterr().out
    assert cli.main(["render", str(song), "--section", "A", "--op", "import", "--file",
                     str(tmp_path / "none.wav"), *TINY]) == 2
    assert "cannot import none.wav: the file does not exist" in capsys.readouterr().err
    # At another tempo and key: stretched and moved as it comes in, and the take says so.
    with open_project(song) as opened:
        project = opened.project
        bpm = project.section_bpm(project.section_by_name("A"))
        key = project.section_key(project.section_by_name("A"))
    other = key.transpose(2)
    assert cli.main(["render", str(song), "--section", "A", "--op", "import", "--file",
                     str(riff), "--file-bpm", f"{bpm / 2:g}", "--file-key", str(other),
                     *TINY]) == 0
    with open_project(song) as opened:
        take = opened.project.section_by_name("A").active_take
    assert take.label == f"riff.flac ({bpm / 2:g}→{bpm:g} BPM, -2 st)"
    for flags, message in ((["--file-key", "H major"], "--file-key: "),
                           (["--file-bpm", "500"], "--file-bpm 500: a tempo is 20 to 400"),
                           (["--file-bpm", "20"], f"--file-bpm 20: the section plays at "
                                                  f"{bpm:g} BPM, so recordings at")):
        assert cli.main(["render", str(song), "--section", "A", "--op", "import", "--file",
                         str(riff), *flags, *TINY]) == 2
        assert message in capsys.readouterr().err, flags


def test_a_stable_audio_open_folder_renders_from_the_prompt_without_plans(tmp_path,
                                                                          capsys) -> None:
    from tests.stable_audio_folder import write_tiny_stable_audio

    folder = write_tiny_stable_audio(tmp_path / "sao", sample_rate=8000, downsampling=(4, 8, 8))
    song = tmp_path / "song.mlx"
    model = ["--model-dir", str(folder), "--steps", "3", "--quiet"]
    assert cli.main(["generate", "warm pads", "--sections", "A:2,B:1@90", "--out", str(song),
                     *model]) == 0
    with open_project(song) as opened:
        a, b = opened.project.sections
        assert a.plan is None and b.plan is None  # rendered from the prompt alone
        assert a.active_take.model_id == "stable-audio-open" and b.active_take.bpm == 90.0
        assert a.active_take.audio_sample_rate == 8000
    assert cli.main(["render", str(song), "--section", "A", "--op", "repaint", "--bars", "2",
                     *model]) == 0
    assert cli.main(["render", str(song), "--section", "A", "--op", "extend", "--add-bars", "1",
                     *model]) == 0
    with open_project(song) as opened:
        assert opened.project.section_by_name("A").length_bars == 3


def test_a_musicgen_folder_continues_the_song_from_the_prompt(tmp_path, capsys) -> None:
    from tests.musicgen_folder import write_tiny_musicgen

    folder = write_tiny_musicgen(tmp_path / "musicgen")
    song = tmp_path / "song.mlx"
    model = ["--model-dir", str(folder), "--steps", "3", "--quiet"]
    assert cli.main(["generate", "warm pads", "--sections", "A:2,B:1@90", "--out", str(song),
                     *model]) == 0
    with open_project(song) as opened:
        a, b = opened.project.sections
        assert a.plan is None and b.plan is None
        assert a.active_take.model_id == "musicgen" and b.active_take.bpm == 90.0
        assert a.active_take.audio_sample_rate == 8000
    # The last bar continues the first; the first cannot be repainted under a kept second.
    assert cli.main(["render", str(song), "--section", "A", "--op", "repaint", "--bars", "2",
                     *model]) == 0
    assert cli.main(["render", str(song), "--section", "A", "--op", "repaint", "--bars", "1",
                     *model]) == 2
    assert "cannot repaint bars with kept bars" in capsys.readouterr().err
    assert cli.main(["render", str(song), "--section", "A", "--op", "extend", "--add-bars", "1",
                     *model]) == 0
    with open_project(song) as opened:
        assert opened.project.section_by_name("A").length_bars == 3
