"""The style probe of `melodex eval generate`: fitted on a corpus split, judged on another."""

from __future__ import annotations

import json

import numpy as np
import pytest

from melodex_studio.training.eval_style import (
    corpus_style_examples,
    fit_style_probe,
    style_features,
)
from tests.style_corpus import SR, beat, pad, write_corpus

pytest.importorskip("librosa")
pytest.importorskip("sklearn")


def test_features_have_a_fixed_size_and_tell_texture_apart() -> None:
    a, b = style_features(pad(0), SR), style_features(beat(0), SR)
    assert a.shape == b.shape == (256,)
    assert np.all(np.isfinite(a)) and np.abs(a - b).max() > 1.0


def test_examples_come_from_the_asked_split_only(tmp_path) -> None:
    corpus = write_corpus(tmp_path / "c")
    train = corpus_style_examples(corpus, held_out=False, max_examples=100)
    held = corpus_style_examples(corpus, held_out=True, max_examples=100)
    assert len(train) == 12 and len(held) == 4
    assert not {p for p, _ in train} & {p for p, _ in held}
    assert len(corpus_style_examples(corpus, held_out=False, max_examples=5)) == 5


def test_the_probe_learns_the_styles_and_hears_every_clip_through_the_transform(tmp_path) -> None:
    corpus = write_corpus(tmp_path / "c")
    heard: list[int] = []

    def transform(audio: np.ndarray, rate: int) -> np.ndarray:
        heard.append(audio.size)
        return audio

    probe = fit_style_probe(corpus, transform=transform)
    assert probe.styles == ("ambient", "house") and probe.trained_on == 12
    assert probe.held_out_accuracy == 1.0
    assert len(heard) == 16  # every training and held-out clip
    assert probe.judge(beat(99), SR, "house") == {
        "requested": "house", "predicted": "house", "correct": True}
    assert probe.judge(pad(99), SR, "house")["correct"] is False


def test_a_corpus_of_one_style_is_refused(tmp_path) -> None:
    corpus = write_corpus(tmp_path / "c")
    for path in (corpus / "examples").glob("*.json"):
        document = json.loads(path.read_text())
        document["labels"]["sections"][0]["style"] = "house"
        path.write_text(json.dumps(document))
    with pytest.raises(ValueError, match="fewer than two styles"):
        fit_style_probe(corpus)


def test_the_codec_round_trip_keeps_the_length_and_refuses_another_rate() -> None:
    from melodex_studio.engine.codec import Codec
    from melodex_studio.training.eval_style import codec_round_trip

    codec = Codec.tiny_random(0)
    through = codec_round_trip(codec)
    clip = pad(1)[: codec.sample_rate].astype(np.float32)
    heard = through(clip, codec.sample_rate)
    assert heard.shape == clip.shape and heard.dtype == np.float32
    assert not np.array_equal(heard, clip)  # it really went through the codec
    with pytest.raises(ValueError, match="Hz audio"):
        through(clip, 44100)
