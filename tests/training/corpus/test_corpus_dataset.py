"""Examples are determined by (seed, index), cover the label space, split stably, and round-trip
through the disk store without pickles."""

from __future__ import annotations

import json
from collections import Counter

import numpy as np
import pytest

from melodex_studio.training.corpus.build import MANIFEST, build_corpus
from melodex_studio.training.corpus.dataset import (
    compose_example,
    generate_example,
    is_held_out,
    split_indices,
)
from melodex_studio.training.corpus.storage import CorpusStore, default_corpus_dir
from melodex_studio.training.corpus.styles import STYLES

pytest.importorskip("tinysoundfont")


def test_generated_examples_are_deterministic() -> None:
    first = generate_example(5, seed=3, seconds_max=6.0)
    again = generate_example(5, seed=3, seconds_max=6.0)
    other = generate_example(6, seed=3, seconds_max=6.0)
    assert first.labels == again.labels and first.caption == again.caption
    assert first.audio.tobytes() == again.audio.tobytes()
    assert first.labels != other.labels
    assert first.audio.dtype == np.float32 and first.sample_rate == 24_000
    assert len(first.audio) == first.labels.n_samples <= 6.0 * 24_000 + 1
    assert set(first.stems) == {"drums", "bass", "harmony", "melody"}


def test_sampling_covers_styles_keys_meters_and_tempos() -> None:
    sections = [compose_example(i, seed=0, seconds_max=12.0) for i in range(400)]
    assert {s.style for s in sections} == set(STYLES)
    assert len({s.key for s in sections}) == 24
    meters = Counter(s.meter for s in sections)
    assert meters["3/4"] >= 10 and meters["6/8"] >= 10 and meters["4/4"] >= 200
    bpms = [s.bpm for s in sections]
    assert min(bpms) <= 75 and max(bpms) >= 165
    assert len({s.section_kind for s in sections}) == 8
    for section in sections:
        low, high = STYLES[section.style].tempo
        assert low <= section.bpm <= high
        assert section.n_bars * section.grid(24_000).seconds_per_bar <= 12.0 + 1e-9


def test_held_out_split_is_stable_and_small() -> None:
    train, held = split_indices(2000, seed=0)
    assert 0.03 < len(held) / 2000 < 0.07
    assert set(train).isdisjoint(held) and len(train) + len(held) == 2000
    assert split_indices(100, seed=0)[1] == [i for i in held if i < 100]
    assert [is_held_out(i, 0) for i in range(50)] == [is_held_out(i, 0) for i in range(50)]
    assert split_indices(2000, seed=1)[1] != held


@pytest.mark.parametrize("audio_format", ["flac", "npy"])
def test_store_round_trip(tmp_path, audio_format) -> None:
    store = CorpusStore(tmp_path, seed=2, audio_format=audio_format)
    example = generate_example(1, seed=2, seconds_max=4.0)
    store.save(example, keep_stems=True)
    loaded = store.load(1)
    assert loaded.caption == example.caption and loaded.labels == example.labels
    tolerance = 0.0 if audio_format == "npy" else 2.0**-22  # 24-bit FLAC
    assert loaded.audio.dtype == np.float32
    assert np.max(np.abs(loaded.audio - example.audio)) <= tolerance
    assert set(loaded.stems) == set(example.stems)
    assert np.max(np.abs(loaded.stems["bass"] - example.stems["bass"])) <= tolerance
    document = json.loads(store.label_path(1).read_text())
    assert document["labels"]["sections"][0]["plan"]["bars"]
    assert not list(tmp_path.rglob("*.pkl")) and not list(tmp_path.rglob(".*partial"))
    with pytest.raises(ValueError):
        CorpusStore(tmp_path, seed=3).save(example)


def test_build_corpus_writes_resumes_and_refuses_a_different_corpus(tmp_path) -> None:
    out = tmp_path / "corpus"
    store = build_corpus(3, out, seed=4, workers=1, seconds_max=3.0, progress=False)
    assert all(store.has(i) for i in range(3))
    manifest = json.loads((out / MANIFEST).read_text())
    assert manifest["seed"] == 4 and manifest["n"] == 3
    stamp = store.label_path(0).stat().st_mtime_ns
    build_corpus(4, out, seed=4, workers=1, seconds_max=3.0, progress=False)
    assert store.label_path(0).stat().st_mtime_ns == stamp  # kept, not rebuilt
    assert store.has(3)
    assert store.load(3).audio.tobytes() == store.get(3, seconds_max=3.0).audio.tobytes()
    with pytest.raises(ValueError, match="seed"):
        build_corpus(1, out, seed=5, progress=False)


def test_default_corpus_dir_follows_the_environment(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("MELODEX_CORPUS_DIR", str(tmp_path / "mine"))
    assert default_corpus_dir() == tmp_path / "mine"
    monkeypatch.delenv("MELODEX_CORPUS_DIR")
    monkeypatch.setenv("MELODEX_CACHE_DIR", str(tmp_path / "cache"))
    assert default_corpus_dir() == tmp_path / "cache" / "corpus"


def test_parallel_build_matches_a_serial_one(tmp_path) -> None:
    serial = build_corpus(2, tmp_path / "serial", seed=8, workers=1, seconds_max=2.0,
                          progress=False)
    parallel = build_corpus(2, tmp_path / "parallel", seed=8, workers=2, seconds_max=2.0,
                            progress=False)
    for index in range(2):
        a, b = serial.load(index), parallel.load(index)
        assert a.labels == b.labels and a.caption == b.caption
        assert a.audio.tobytes() == b.audio.tobytes()
