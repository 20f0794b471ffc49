"""Judging generated audio against what was asked for, with analysis tools we did not write.

A model that is judged by its own conditioning code can agree with itself while sounding wrong,
so tempo comes from librosa's beat tracker and pitch content from librosa's constant-Q chroma;
only the last step (a line fit, a profile or template correlation) is ours, in a few lines of
numpy:

* tempo: a straight line through the tracked beat times (dropped beats keep their index), so the
  estimate is not quantised to the tracker's tempogram bins. Where the tracker slips off the
  beat (an interval a fraction of a beat longer or shorter: it went over to the off-beats of a
  syncopated groove, or back) the line keeps its slope and starts a new offset, so one slip does
  not tilt it; slips are counted and reported. Half/double time (and the dotted-quarter pulse
  of compound meters) counts as right but is reported separately;
* key: the section's mean chroma correlated with the 24 rotated Krumhansl-Kessler profiles; only
  the exact key counts as correct (relative, parallel and fifth neighbours are reported apart).
  The same profile run on the plan's own notes (`music.key_reading`) says how often the
  *score* reads in the asked key: a two-chord ii-V vamp is heard a tone up whoever plays it, so
  that rate is what any renderer of the plan can reach;
* chords: each bar's mean chroma against the 24 major/minor triad templates; a bar agrees when
  the planned chord reduced to its triad is the best template or within `CHORD_MARGIN` of it;
* seams: spectral flux at a repaint's region edges over the median flux at the section's other
  bar lines. The edges *are* bar lines, where music puts its downbeats and chord changes: on the
  trained model's own renders the flux at an untouched bar line is 4-18x the median over all
  frames, so dividing by that median scores the music, not the seam. Divided by the flux at
  the other bar lines, a seam nobody hears scores about 1 and a click or a splice several.
  The all-frames ratio is still reported (``reference="all frames"``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from melodex_studio.engine.audio_key import key_vector
from melodex_studio.music.chord import Chord
from melodex_studio.music.key import Key
from melodex_studio.music.meter import Meter
from melodex_studio.music.plan import Plan
from melodex_studio.music.tempo import TempoGrid

TEMPO_TOLERANCE_PCT = 2.0
CHORD_MARGIN = 0.05  # Pearson correlation; neighbouring triads share two notes
CHROMA_HOP = 512
FLUX_FFT = 1024
FLUX_HOP = 256
MIN_BEATS = 4
#: Beats (of the median interval) an interval may lie off a whole number before it counts as
#: a phase slip: the tracker's own jitter is a frame or two (under 5 % of a beat).
PHASE_SLIP = 0.2


# --- tempo -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class TempoJudgement:
    requested_bpm: float
    estimated_bpm: float  # NaN when the tracker found fewer than MIN_BEATS beats
    beats: int
    level: float  # the metrical level matched: 1 = the requested tempo, 0.5 = half time, ...
    error_pct: float  # against requested_bpm * level
    within: bool  # error_pct <= tolerance, at any accepted level
    half_double: bool  # within, but at a level other than 1
    phase_slips: int = 0  # intervals a fraction of a beat off a whole number (`beat_line`)


@dataclass(frozen=True)
class BeatLine:
    bpm: float  # 60 / the line's slope; NaN without MIN_BEATS beats in runs of two or more
    phase_slips: int  # intervals more than PHASE_SLIP from a whole number of beats


def beat_line(beat_times: Sequence[float]) -> BeatLine:
    """The least-squares line through beat times, one slope for all and a fresh offset after
    each phase slip.

    Beats are indexed by the median interval, so a beat the tracker skipped (an interval of two
    beats) keeps the line straight instead of bending it. An interval more than `PHASE_SLIP`
    from a whole number of beats is the tracker changing phase (one and a half beats: it went
    over to the off-beats of a syncopated groove): counting it as one or two beats would tilt
    the line by a few percent though every beat on either side is on time, so the line takes
    a new offset there instead, and the slope is fitted over the runs between slips."""
    times = np.asarray(beat_times, dtype=np.float64)
    if times.size < MIN_BEATS:
        return BeatLine(float("nan"), 0)
    intervals = np.diff(times)
    period = float(np.median(intervals))
    if period <= 0.0:
        return BeatLine(float("nan"), 0)
    ratio = intervals / period
    whole = np.round(ratio)
    slips = (whole < 1.0) | (np.abs(ratio - whole) > PHASE_SLIP)
    index = np.concatenate([[0.0], np.cumsum(np.where(slips, 0.0, whole))])
    run = np.concatenate([[0], np.cumsum(slips)])
    sizes = np.bincount(run)
    fitted = sizes[run] >= 2  # a lone beat between two slips says nothing about the slope
    if int(fitted.sum()) < MIN_BEATS:
        return BeatLine(float("nan"), int(slips.sum()))
    # One slope, an offset per run: the slope of the points centred on their own run's means.
    runs = run[fitted]
    counts = np.bincount(runs)[runs]
    x = index[fitted] - (np.bincount(runs, index[fitted])[runs] / counts)
    y = times[fitted] - (np.bincount(runs, times[fitted])[runs] / counts)
    slope = float(np.dot(x, y) / np.dot(x, x))
    return BeatLine(60.0 / slope if slope > 0 else float("nan"), int(slips.sum()))


def accepted_tempo_levels(meter: Meter) -> tuple[float, ...]:
    """Pulse rates (as multiples of the quarter-note BPM) a listener may tap; 1 comes first.
    BPM counts quarter notes in every meter, so 6/8 is also felt in dotted quarters (2/3)."""
    levels = (1.0, 0.5, 2.0)
    return (*levels, 2.0 / 3.0, 1.0 / 3.0) if meter.is_compound else levels


def judge_tempo(audio: np.ndarray, sample_rate: int, requested_bpm: float, meter: Meter,
                tolerance_pct: float = TEMPO_TOLERANCE_PCT) -> TempoJudgement:
    import librosa

    _, beat_times = librosa.beat.beat_track(
        y=np.asarray(audio, dtype=np.float32), sr=sample_rate, hop_length=FLUX_HOP, units="time"
    )
    line = beat_line(beat_times)
    estimated = line.bpm
    if not np.isfinite(estimated):
        return TempoJudgement(requested_bpm, estimated, len(beat_times), 1.0, float("inf"),
                              False, False, line.phase_slips)
    errors = [(abs(estimated / (requested_bpm * level) - 1.0) * 100.0, level)
              for level in accepted_tempo_levels(meter)]
    error, level = min(errors)  # ties go to the smaller error, then the smaller level
    within = error <= tolerance_pct
    return TempoJudgement(requested_bpm, estimated, len(beat_times), level, error, within,
                          within and level != 1.0, line.phase_slips)


# --- chroma and key ----------------------------------------------------------------------------


def chroma_frames(audio: np.ndarray, sample_rate: int, hop: int = CHROMA_HOP) -> np.ndarray:
    """Constant-Q chroma energy [12, frames] (C = row 0, not normalised); frame f is centred at
    f * hop samples. Key and chord judges each normalise it their own way."""
    import librosa

    return librosa.feature.chroma_cqt(y=np.asarray(audio, dtype=np.float32), sr=sample_rate,
                                      hop_length=hop, norm=None)


def _correlations(vector: np.ndarray, templates: np.ndarray) -> np.ndarray:
    """Pearson correlation of a 12-vector with each row of `templates` [n, 12]."""
    v = vector - vector.mean()
    t = templates - templates.mean(axis=1, keepdims=True)
    denom = np.linalg.norm(t, axis=1) * np.linalg.norm(v)
    if denom.min() == 0.0:  # silence or a flat chroma says nothing
        return np.zeros(len(templates))
    return (t @ v) / denom


@dataclass(frozen=True)
class KeyJudgement:
    requested: str
    estimated: str
    correct: bool  # exact key: same tonic and mode
    related: bool  # not exact, but the relative, parallel or a fifth away in the same mode


def estimate_key(chroma: np.ndarray) -> Key:
    """The key whose profile correlates best with `key_vector(chroma)`: chroma frames
    log-compressed and averaged, as the studio's listener reads its own chroma (on labelled
    corpus audio that finds the exact key more often than a plain mean: 56 % against 51 %, as
    held chords stop outweighing passing notes)."""
    return Key.from_index(int(np.argmax(Key.correlations(key_vector(chroma)))))


def judge_key(chroma: np.ndarray, requested: Key) -> KeyJudgement:
    estimated = estimate_key(chroma)
    neighbours = {requested.relative, requested.parallel, requested.transpose(7),
                  requested.transpose(5)}
    return KeyJudgement(str(requested), str(estimated), estimated == requested,
                        estimated != requested and estimated in neighbours)


# --- chords ------------------------------------------------------------------------------------


def triad_templates() -> np.ndarray:
    """[24, 12] binary triads: C..B major (rows 0-11), then C..B minor (rows 12-23)."""
    rows = [Chord(root, quality).chroma() for quality in ("maj", "min") for root in range(12)]
    return np.asarray(rows, dtype=np.float64)


def triad_rows(chord: Chord) -> tuple[int, ...]:
    """Template rows a planned chord reduces to: its triad by the third (a major third wins, so
    7#9 stays dominant); chords without a third (sus, power) accept either triad on the root."""
    thirds = {step % 12 for step in chord.intervals}
    if 4 in thirds:
        return (chord.root,)
    if 3 in thirds:
        return (12 + chord.root,)
    return (chord.root, 12 + chord.root)


@dataclass(frozen=True)
class ChordJudgement:
    bars_judged: int  # bars with a planned chord and some audio under them
    bars_agreeing: int
    agreement: float  # bars_agreeing / bars_judged (NaN when nothing was judged)
    best: tuple[str, ...]  # best-matching triad per judged bar, for reading a failure


def judge_chords(chroma: np.ndarray, grid: TempoGrid, plan: Plan, hop: int = CHROMA_HOP,
                 margin: float = CHORD_MARGIN, start_bar: int = 0) -> ChordJudgement:
    """Per-bar chord agreement of audio chroma [12, F] (bar `start_bar` at sample 0)."""
    templates = triad_templates()
    # Each frame scaled to its loudest pitch class, so a bar's quiet end weighs like its start.
    per_frame = chroma / np.maximum(chroma.max(axis=0, keepdims=True), 1e-12)
    centres = np.arange(chroma.shape[1]) * hop
    origin = grid.bar_to_sample(start_bar)
    judged = agreeing = 0
    best_names = []
    for index, bar in enumerate(plan.bars):
        chord = bar.chord_value()
        if chord is None:
            continue
        lo, hi = grid.bar_span_samples(start_bar + index, 1)
        frames = (centres >= lo - origin) & (centres < hi - origin)
        if not frames.any():
            continue
        scores = _correlations(per_frame[:, frames].mean(axis=1), templates)
        best = int(np.argmax(scores))
        planned = max(scores[row] for row in triad_rows(chord))
        judged += 1
        agreeing += int(best in triad_rows(chord) or planned >= scores[best] - margin)
        best_names.append(Chord(best % 12, "min" if best >= 12 else "maj").symbol)
    agreement = agreeing / judged if judged else float("nan")
    return ChordJudgement(judged, agreeing, agreement, tuple(best_names))


# --- seams -------------------------------------------------------------------------------------


def spectral_flux(audio: np.ndarray, n_fft: int = FLUX_FFT, hop: int = FLUX_HOP) -> np.ndarray:
    """Half-wave rectified frame-to-frame rise of log-compressed STFT magnitude, summed over
    bins: [frames]; value f compares frames f-1 and f (centred at (f-1)*hop and f*hop)."""
    import librosa

    magnitude = np.abs(librosa.stft(np.asarray(audio, dtype=np.float32), n_fft=n_fft,
                                    hop_length=hop, center=True))
    compressed = np.log1p(100.0 * magnitude)
    rise = np.maximum(0.0, np.diff(compressed, axis=1)).sum(axis=0)
    return np.concatenate([[0.0], rise])


@dataclass(frozen=True)
class SeamJudgement:
    edge_ratios: tuple[float, ...]  # flux at each edge over the reference flux
    score: float  # the worst edge: a seam is only as good as its worse side
    reference_flux: float  # median flux at the reference positions (or over all frames)
    reference: str  # "bar lines" or "all frames"


def _covering_flux(audio: np.ndarray, n_fft: int, hop: int) -> np.ndarray:
    """Flux "at" each frame position: the largest value among the frames whose window covers
    it, so a click anywhere under the window counts, wherever it falls against the hop."""
    flux = spectral_flux(audio, n_fft, hop)
    reach = max(1, n_fft // (2 * hop))  # frames on each side whose window covers a sample
    padded = np.pad(flux[1:], (reach - 1, reach), mode="edge")
    return np.concatenate([[0.0], sliding_window_view(padded, 2 * reach).max(axis=1)])


def seam_score(audio: np.ndarray, edges: Sequence[int],
               reference_positions: Sequence[int] | None = None, n_fft: int = FLUX_FFT,
               hop: int = FLUX_HOP) -> SeamJudgement:
    """Flux at each edge sample over the median flux at `reference_positions` (samples of
    comparable places, e.g. the section's other bar lines), or, without them, over the median
    of the same statistic at every position of the clip (stationary audio then scores 1)."""
    covering = _covering_flux(audio, n_fft, hop)
    reach = max(1, n_fft // (2 * hop))

    def frame_of(sample: int) -> int:
        return min(len(covering) - 1, max(1, round(sample / hop)))

    if reference_positions:
        reference = float(np.median([covering[frame_of(p)] for p in reference_positions]))
        kind = "bar lines"
    else:
        inner = covering[1 + reach : len(covering) - reach]  # away from the clip's own ends
        reference = float(np.median(inner if inner.size else covering))
        kind = "all frames"
    ratios = tuple(float(covering[frame_of(edge)]) / reference if reference > 0
                   else float("inf") for edge in edges)
    return SeamJudgement(ratios, max(ratios) if ratios else float("nan"), reference, kind)
