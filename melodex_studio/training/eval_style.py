"""A style probe: how much of the prompt's style a generated section carries.

The tempo, key and chord judges check what the plan dictates; none of them hears whether a
"synthwave" prompt sounds like synthwave rather than folk, which is what classifier-free
guidance is for. The probe is a plain classifier (scikit-learn's logistic regression on
librosa log-mel statistics: the timbre and the rhythm's spectral texture) fitted on the
training split of the labelled corpus. Its accuracy on the held-out split is its ceiling; on
generated sections it says how often the audio is heard as the style it was asked for.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from melodex_studio.training.codec_data import read_audio_file
from melodex_studio.training.eval_reference import one_section_examples

if TYPE_CHECKING:
    from melodex_studio.engine.codec import Codec

PROBE_SAMPLE_RATE = 24_000
N_MELS = 64
MIN_SECONDS = 4.0


def style_features(audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """[4 * N_MELS]: mean and spread over time of the log-mel spectrogram and of its frame-to-
    frame change (instrument colour, and how busy and percussive the texture is)."""
    import librosa

    audio = np.asarray(audio, dtype=np.float32)
    if sample_rate != PROBE_SAMPLE_RATE:
        audio = librosa.resample(audio, orig_sr=sample_rate, target_sr=PROBE_SAMPLE_RATE)
    mel = librosa.feature.melspectrogram(y=audio, sr=PROBE_SAMPLE_RATE, n_fft=1024,
                                         hop_length=512, n_mels=N_MELS)
    log_mel = librosa.power_to_db(mel, ref=np.max, top_db=80.0)
    change = np.diff(log_mel, axis=1)
    return np.concatenate([log_mel.mean(axis=1), log_mel.std(axis=1),
                           np.abs(change).mean(axis=1), change.std(axis=1)])


@dataclass
class StyleProbe:
    """A fitted classifier from `style_features` to a style name."""

    model: Any  # a scikit-learn pipeline
    styles: tuple[str, ...]
    held_out_accuracy: float
    trained_on: int

    def predict(self, audio: np.ndarray, sample_rate: int) -> str:
        return str(self.model.predict(style_features(audio, sample_rate)[None])[0])

    def judge(self, audio: np.ndarray, sample_rate: int, requested: str) -> dict[str, Any]:
        predicted = self.predict(audio, sample_rate)
        return {"requested": requested, "predicted": predicted, "correct": predicted == requested}


def corpus_style_examples(corpus_dir: Path | str, held_out: bool,
                          max_examples: int) -> list[tuple[Path, str]]:
    """(audio path, style) of up to `max_examples` one-section examples of a corpus split."""
    examples = one_section_examples(corpus_dir, held_out)
    return [(path, str(label["style"])) for path, label in islice(examples, max_examples)]


AudioTransform = Callable[[np.ndarray, int], np.ndarray]


def _features_of(examples: Sequence[tuple[Path, str]],
                 transform: AudioTransform | None) -> tuple[np.ndarray, list[str]]:
    rows, labels = [], []
    for path, style in examples:
        audio = read_audio_file(path, PROBE_SAMPLE_RATE)
        if audio.size >= MIN_SECONDS * PROBE_SAMPLE_RATE:
            heard = audio if transform is None else transform(audio, PROBE_SAMPLE_RATE)
            rows.append(style_features(heard, PROBE_SAMPLE_RATE))
            labels.append(style)
    return np.asarray(rows), labels


def codec_round_trip(codec: Codec) -> AudioTransform:
    """Audio as `codec` renders it (encode, then decode), the same length; the probe hears the
    corpus this way so that it judges generated audio in the codec's own sound."""

    def through_codec(audio: np.ndarray, sample_rate: int) -> np.ndarray:
        if sample_rate != codec.sample_rate:
            raise ValueError(f"the codec takes {codec.sample_rate} Hz audio, not {sample_rate}")
        with torch.inference_mode():
            heard = codec.decode(codec.encode(torch.from_numpy(audio)))[0]
        return heard.float().cpu().numpy()[: audio.size]

    return through_codec


def fit_style_probe(corpus_dir: Path | str, max_examples: int = 1200,
                    held_out_examples: int = 150, seed: int = 0,
                    transform: AudioTransform | None = None) -> StyleProbe:
    """Fit on the corpus' training split, measure on its held-out split. `transform` is applied
    to every clip first: the codec's round trip, so the probe learns the styles as the codec
    renders them (plain corpus audio fitted, codec audio read drops from 84 % to 68 %)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    train_x, train_y = _features_of(corpus_style_examples(corpus_dir, False, max_examples),
                                    transform)
    if len(set(train_y)) < 2:
        raise ValueError(f"the corpus at {corpus_dir} has fewer than two styles to tell apart")
    model = make_pipeline(StandardScaler(), LogisticRegression(C=0.5, max_iter=4000,
                                                               random_state=seed))
    model.fit(train_x, train_y)
    test_x, test_y = _features_of(corpus_style_examples(corpus_dir, True, held_out_examples),
                                  transform)
    accuracy = float(np.mean(model.predict(test_x) == np.asarray(test_y))) if test_y else \
        float("nan")
    return StyleProbe(model, tuple(sorted(set(train_y))), accuracy, len(train_y))
