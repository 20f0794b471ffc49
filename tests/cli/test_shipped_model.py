"""The shipped model end to end (slow): `melodex generate` on models/melodex-tiny writes a valid
project and WAV, bit-identical for the same seed, and a repaint changes only its bars."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import soundfile as sf

from melodex_studio.cli import main as cli
from melodex_studio.store import check_project, open_project
from melodex_studio.worker.model_paths import builtin_model_dir, model_is_present

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not model_is_present(), reason="models/melodex-tiny is not complete"),
]


def _generate(folder, seed: int = 3) -> tuple[bytes, object]:
    song = folder / "song.mlx"
    code = cli.main([
        "generate", "warm synthwave with gated drums and a bright lead", "--bpm", "110",
        "--key", "E minor", "--sections", "Verse:2,Chorus:2", "--seed", str(seed),
        "--out", str(song), "--wav", str(folder / "song.wav"), "--quiet", "--threads", "2",
    ])
    assert code == 0
    return (folder / "song.wav").read_bytes(), song


def test_generate_is_deterministic_and_valid(tmp_path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    wav_a, song_a = _generate(tmp_path / "a")
    wav_b, _ = _generate(tmp_path / "b")
    assert hashlib.sha256(wav_a).digest() == hashlib.sha256(wav_b).digest()
    check_project(song_a)
    audio, rate = sf.read(tmp_path / "a" / "song.wav")
    assert rate == 44100 and audio.shape[0] > 4 * rate
    assert np.sqrt(np.mean(np.square(audio))) > 0.02  # music, not silence
    with open_project(song_a) as opened:
        takes = [s.active_take for s in opened.project.sections]
    expected_model = builtin_model_dir().name
    assert all(t is not None and t.model_id == expected_model and t.weights_hash for t in takes)


def test_a_repaint_changes_only_its_bars(tmp_path) -> None:
    _, song = _generate(tmp_path)
    with open_project(song) as opened:
        before = {s.name: opened.blobs().get(s.active_take.final_latent)
                  for s in opened.project.sections}
    code = cli.main(["render", str(song), "--section", "Chorus", "--op", "repaint",
                     "--bars", "2", "--seed", "11", "--quiet", "--threads", "2"])
    assert code == 0
    with open_project(song) as opened:
        after = {s.name: opened.blobs().get(s.active_take.final_latent)
                 for s in opened.project.sections}
    assert after["Verse"] == before["Verse"]
    assert after["Chorus"] != before["Chorus"]
