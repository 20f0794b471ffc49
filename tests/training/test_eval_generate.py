"""Generation evaluation: the judges on synthetic audio of known tempo, key, chords and seams;
the section design; one end-to-end run on tiny random models."""

from __future__ import annotations

import hashlib
import json
from collections import Counter

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from melodex_studio.music.key import Key
from melodex_studio.music.meter import Meter
from melodex_studio.music.plan import Plan, PlanBar
from melodex_studio.music.tempo import TempoGrid
from melodex_studio.training.eval_design import design_sections
from melodex_studio.training.eval_generate import GenerateSettings, evaluate_generation
from melodex_studio.training.eval_metrics import (
    beat_line,
    chroma_frames,
    estimate_key,
    judge_chords,
    judge_key,
    judge_tempo,
    seam_score,
)
from melodex_studio.training.eval_models import random_generation_models

pytest.importorskip("librosa")

SR = 24000
A_MINOR_BARS = ["Am", "Dm", "Em", "Am"]


def click_track(bpm: float, seconds: float) -> np.ndarray:
    audio = np.zeros(int(seconds * SR), dtype=np.float32)
    n = np.arange(int(0.03 * SR))
    burst = np.sin(2 * np.pi * 1500 * n / SR) * np.exp(-n / (0.005 * SR))
    beat = 0.25
    while (beat + 0.03) * SR < audio.size:
        start = round(beat * SR)
        audio[start : start + n.size] += burst.astype(np.float32)
        beat += 60.0 / bpm
    return audio


def clicks_at(times: list[float], seconds: float) -> np.ndarray:
    """Short 1.5 kHz bursts at the given times."""
    audio = np.zeros(int(seconds * SR), dtype=np.float32)
    n = np.arange(int(0.03 * SR))
    burst = (np.sin(2 * np.pi * 1500 * n / SR) * np.exp(-n / (0.005 * SR))).astype(np.float32)
    for time in times:
        start = round(time * SR)
        audio[start : start + n.size] += burst[: max(0, min(n.size, audio.size - start))]
    return audio


def chord_tone(symbol: str, seconds: float, gain: float = 0.1) -> np.ndarray:
    """A sustained chord of harmonic tones (three partials per note) around A4."""
    from melodex_studio.music.chord import Chord

    t = np.arange(int(seconds * SR)) / SR
    audio = np.zeros_like(t)
    for pitch_class in Chord.parse(symbol).pitch_classes:
        freq = 440.0 * 2 ** ((pitch_class - 9) / 12)
        for harmonic, level in ((1, 1.0), (2, 0.4), (3, 0.2)):
            audio += level * np.sin(2 * np.pi * freq * harmonic * t)
    return (gain * audio).astype(np.float32)


def plan_of(chords: list[str]) -> Plan:
    return Plan(steps_per_bar=16, bars=tuple(PlanBar(chord=c, drums=(0,) * 16) for c in chords))


# --- tempo --------------------------------------------------------------------------------------


def test_click_track_tempo_is_within_two_percent() -> None:
    judged = judge_tempo(click_track(123.0, 20.0), SR, 123.0, Meter.parse("4/4"))
    assert judged.within and not judged.half_double
    assert judged.level == 1.0
    assert judged.error_pct < 2.0
    assert judged.estimated_bpm == pytest.approx(123.0, rel=0.02)


def test_half_time_counts_as_right_but_is_flagged() -> None:
    judged = judge_tempo(click_track(123.0, 20.0), SR, 61.5, Meter.parse("4/4"))
    assert judged.within and judged.half_double and judged.level == 2.0
    wrong = judge_tempo(click_track(123.0, 20.0), SR, 100.0, Meter.parse("4/4"))
    assert not wrong.within and wrong.error_pct > 2.0


def test_compound_meter_accepts_the_dotted_quarter_pulse() -> None:
    # 6/8 at 120 quarter-note BPM is felt as 80 dotted quarters a minute.
    judged = judge_tempo(click_track(80.0, 20.0), SR, 120.0, Meter.parse("6/8"))
    assert judged.within and judged.half_double
    assert judged.level == pytest.approx(2 / 3)
    assert not judge_tempo(click_track(80.0, 20.0), SR, 120.0, Meter.parse("4/4")).within


def test_line_fit_keeps_its_slope_across_a_dropped_beat() -> None:
    beats = [0.5 + k * 60.0 / 123.0 for k in range(24) if k != 9]
    assert beat_line(beats).bpm == pytest.approx(123.0, rel=1e-9)
    assert np.isnan(beat_line([0.0, 0.5, 1.0]).bpm)


def test_line_fit_without_slips_is_the_least_squares_line() -> None:
    rng = np.random.default_rng(3)
    beats = 0.4 + np.arange(30) * 60.0 / 97.0 + rng.normal(0.0, 0.008, 30)
    slope = np.polyfit(np.arange(30), beats, 1)[0]
    line = beat_line(beats)
    assert line.phase_slips == 0
    assert line.bpm == pytest.approx(60.0 / slope, rel=1e-12)


def test_line_fit_keeps_its_slope_across_a_phase_slip() -> None:
    # A tracker that goes over to the off-beats after beat 13: one interval of 1.5 beats.
    # Counted as two beats it would tilt the line by 2-3 %.
    period = 60.0 / 121.0
    beats = [0.3 + k * period + (0.5 * period if k >= 14 else 0.0) for k in range(30)]
    line = beat_line(beats)
    assert line.phase_slips == 1
    assert line.bpm == pytest.approx(121.0, rel=1e-9)
    # Slipping over and back (two intervals of 1.25 beats) leaves a lone beat: dropped.
    back = [0.3 + k * period + (0.25 * period if k == 14 else 0.5 * period if k > 14 else 0.0)
            for k in range(30)]
    assert beat_line(back) == beat_line(back)  # deterministic
    assert beat_line(back).phase_slips == 2
    assert beat_line(back).bpm == pytest.approx(121.0, rel=1e-9)


def test_line_fit_needs_enough_beats_between_slips() -> None:
    period = 0.5
    # Every interval a fraction of a beat off: lone beats say nothing about the slope.
    line = beat_line([0.0, 0.5, 1.3, 1.65, 2.45])
    assert line.phase_slips == 4 and np.isnan(line.bpm)
    # Two slips between runs of two: six beats, one slope.
    line = beat_line([0.0, 0.5, 1.3, 1.8, 2.6, 3.1])
    assert line.phase_slips == 2 and line.bpm == pytest.approx(120.0, rel=1e-9)
    # A beat tracked twice (an interval near zero) starts a new run instead of counting as a
    # beat: the line stays within the 20 ms of the echo.
    doubled = sorted([k * period for k in range(12)] + [3.02])
    assert beat_line(doubled).phase_slips == 1
    assert beat_line(doubled).bpm == pytest.approx(120.0, rel=5e-3)


def test_tracked_phase_slip_is_reported_and_the_tempo_stays_right() -> None:
    period = 60.0 / 123.0
    times = [0.25 + k * period + (0.5 * period if k >= 20 else 0.0) for k in range(40)]
    judged = judge_tempo(clicks_at(times, 21.0), SR, 123.0, Meter.parse("4/4"))
    assert judged.phase_slips == 1
    assert judged.within and judged.error_pct < 0.2


# --- key and chords -----------------------------------------------------------------------------


def test_a_minor_triads_give_a_minor_and_c_major_triads_give_c_major() -> None:
    minor = chroma_frames(np.concatenate([chord_tone(c, 2.0) for c in A_MINOR_BARS]), SR)
    judged = judge_key(minor, Key.parse("A minor"))
    assert judged.estimated == "A minor" and judged.correct
    relative = judge_key(minor, Key.parse("C major"))
    assert not relative.correct and relative.related
    major = chroma_frames(np.concatenate([chord_tone(c, 2.0) for c in ["C", "F", "G", "C"]]), SR)
    assert estimate_key(major) == Key.parse("C major")


def test_chord_agreement_is_full_on_the_played_chords_and_low_on_others() -> None:
    grid = TempoGrid(120.0, Meter.parse("4/4"), SR)  # a bar is 2 s
    chroma = chroma_frames(np.concatenate([chord_tone(c, 2.0) for c in A_MINOR_BARS]), SR)
    matching = judge_chords(chroma, grid, plan_of(["Am7", "Dm", "Em", "Am"]))
    assert matching.bars_judged == 4 and matching.agreement == 1.0
    assert matching.best == ("Am", "Dm", "Em", "Am")
    mismatched = judge_chords(chroma, grid, plan_of(["Eb", "Ab", "Bb", "F#m"]))
    assert mismatched.bars_judged == 4 and mismatched.agreement <= 0.25


# --- seams --------------------------------------------------------------------------------------


def _stationary(seconds: float) -> np.ndarray:
    noise = 0.003 * np.random.default_rng(0).standard_normal(int(seconds * SR))
    return chord_tone("Am", seconds) + noise.astype(np.float32)


def test_seam_score_is_about_one_on_stationary_audio() -> None:
    audio = _stationary(10.0)
    for reference in (None, [1 * SR, 2 * SR, 5 * SR, 8 * SR]):
        judged = seam_score(audio, [3 * SR, 6 * SR], reference)
        assert all(0.7 < r < 1.3 for r in judged.edge_ratios)
        assert judged.score <= 1.5


def test_seam_score_is_high_where_a_loud_discontinuity_is_spliced_in() -> None:
    bar_lines = [1 * SR, 2 * SR, 4 * SR, 5 * SR, 7 * SR, 8 * SR]
    spliced = _stationary(10.0)
    spliced[6 * SR :] += chord_tone("D", 4.0, gain=0.4)
    judged = seam_score(spliced, [3 * SR, 6 * SR], bar_lines)
    assert judged.edge_ratios[0] < 1.3  # the untouched edge stays quiet
    assert judged.edge_ratios[1] > 3.0 and judged.score == judged.edge_ratios[1]
    clicked = _stationary(10.0)
    clicked[3 * SR : 3 * SR + 48] += 0.8
    assert seam_score(clicked, [3 * SR, 6 * SR], bar_lines).edge_ratios[0] > 3.0


def test_downbeats_on_every_bar_line_are_not_a_seam() -> None:
    """Music hits its bar lines: against the median of all frames every edge looks like a
    splice; against the other bar lines an edge is judged by what a bar line sounds like."""
    bar_lines = [s * SR for s in range(1, 10)]
    audio = _stationary(10.0)
    hit = np.random.default_rng(1).standard_normal(int(0.1 * SR)) * np.exp(-np.arange(
        int(0.1 * SR)) / (0.02 * SR))  # a broadband drum-like hit
    for start in bar_lines:
        audio[start : start + hit.size] += 0.5 * hit.astype(np.float32)
    edges = [3 * SR, 6 * SR]
    others = [b for b in bar_lines if b not in edges]
    assert seam_score(audio, edges).score > 3.0  # the all-frames ratio scores the downbeats
    assert seam_score(audio, edges, others).score < 1.3


# --- design and end to end ----------------------------------------------------------------------


def test_design_covers_every_style_key_and_meter_and_the_tempo_range() -> None:
    sections = design_sections(96)
    assert sections == design_sections(96)
    assert len(Counter(s.style for s in sections)) == 10
    assert min(Counter(s.style for s in sections).values()) >= 9
    assert {s.key.index for s in sections} == set(range(24))
    meters = Counter(str(s.meter) for s in sections)
    assert set(meters) == {"4/4", "3/4", "6/8"} and min(meters.values()) >= 16
    bpms = [s.bpm for s in sections]
    assert 70 <= min(bpms) <= 75 and 165 <= max(bpms) <= 170
    assert len({s.prompt for s in sections}) == 96
    assert all(str(s.meter) in {m for m, _ in _style_meters(s.style)} for s in sections)


def _style_meters(name: str) -> tuple[tuple[str, float], ...]:
    from melodex_studio.training.corpus.styles import STYLES

    return STYLES[name].meters


def _hashed_embedding(text: str) -> torch.Tensor:
    """A fixed unit vector per prompt: the tiny models need some 384-d text input."""
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    return F.normalize(torch.randn(384, generator=torch.Generator().manual_seed(seed)), dim=0)


def test_end_to_end_on_tiny_random_models_writes_the_table_and_json(tmp_path, capsys) -> None:
    torch.set_num_threads(2)
    models = random_generation_models("tiny", seed=0, embed=_hashed_embedding)
    sections = design_sections(96, n_bars=4)[1:3]  # rock, house
    out = tmp_path / "eval.json"
    lines: list[str] = []
    result = evaluate_generation(models, sections, GenerateSettings(steps=3, guidance=2.0),
                                 json_path=out, audio_dir=tmp_path / "audio",
                                 progress=lines.append)
    assert len(lines) == 2
    assert list(result["by_style"]) == ["rock", "house"]
    overall = result["overall"]
    assert overall["sections"] == 2
    for name in ("tempo_within_2pct", "tempo_exact", "key_correct", "score_key_correct",
                 "chord_agreement"):
        assert 0.0 <= overall[name] <= 1.0
    assert overall["seam_median"] > 0 and overall["seam_p90"] >= overall["seam_median"]
    assert overall["chord_bars"] == sum(r["chords"]["bars_judged"] for r in result["sections"])
    assert overall["phase_slipped"] == sum(r["tempo"]["phase_slips"] > 0
                                           for r in result["sections"])
    record = result["sections"][0]
    assert record["repaint_bars"] == [1, 3]
    assert set(record["seconds"]) == {"embed", "plan", "render", "decode", "listen", "repaint",
                                      "analysis"}
    # Each section was listened to as the studio does: kept at once, or rendered again.
    checks = [r["key_check"] for r in result["sections"]]
    assert all(1 <= check["attempts"] <= GenerateSettings().key_retries + 1 for check in checks)
    assert overall["extra_renders"] == sum(check["attempts"] - 1 for check in checks)
    assert overall["rendered_again"] == sum(check["attempts"] > 1 for check in checks)
    assert all(check["in_key"] == (check["heard"] == r["key"])
               for check, r in zip(checks, result["sections"], strict=True))
    table = capsys.readouterr().out
    assert f"{overall['extra_renders']} extra renders" in table
    assert "overall" in table and "seam med" in table and "rock" in table and "score" in table
    assert f"slipped phase in {overall['phase_slipped']}" in table
    written = json.loads(out.read_text(), parse_constant=pytest.fail)  # strict: no NaN
    assert written["overall"]["sections"] == 2 and len(written["sections"]) == 2
    assert written["settings"]["steps"] == 3
    assert len(list((tmp_path / "audio").glob("*.wav"))) == 4
    pictures = sorted(p.name for p in (tmp_path / "audio").glob("*.png"))
    assert pictures == ["001_rock.png", "002_house.png"]
    assert (tmp_path / "audio" / "001_rock.png").read_bytes().startswith(b"\x89PNG")
