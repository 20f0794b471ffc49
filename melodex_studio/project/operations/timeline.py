"""The song as one latent timeline, and the window a render job sees of it.

Song frame f covers song samples [f * spf, (f + 1) * spf) at the codec rate (spf = samples per
latent frame). A section occupies frames `bar_span_frames(start, length)` of the tempo grid,
so adjacent sections tile the timeline exactly; a take's noise, checkpoints and final latent
cover exactly those frames, and its audio exactly the section's samples
`bar_span_samples(start, length)` at the codec rate (where the audio layer places it).

A render window is the section's frames plus up to `context_frames` of the neighbours' active
takes on each side (only frames some take actually covers, contiguous with the section), so
the renderer continues the music across section boundaries without changing it there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from melodex_studio.music.tempo import TempoGrid, tempo_factor
from melodex_studio.project.models import Project, Section, Take
from melodex_studio.worker.blobs import AUDIO as AUDIO_TENSOR
from melodex_studio.worker.blobs import LATENT, NOISE, decode_tensor
from melodex_studio.worker.jobs import ModelInfo

#: Reads a blob's bytes by sha256 (the store's `read_blob`, or a MemoryBlobs lookup).
ReadBlob = Callable[[str], bytes]

DEFAULT_CONTEXT_FRAMES = 64


class OperationError(ValueError):
    """An operation that cannot be built from the project as it is; one line for the musician."""


def section_of(project: Project, section_id: str) -> Section:
    """The project's section `section_id`, or an OperationError naming the missing id."""
    try:
        return project.section(section_id)
    except KeyError:
        raise OperationError(f"the project has no section {section_id}") from None


@dataclass(frozen=True)
class LatentGeometry:
    """The codec's time grid: latent channels, audio rate, samples per latent frame."""

    channels: int = 16
    sample_rate: int = 24_000
    samples_per_frame: int = 1024
    schedule_shift: float = 1.0
    model_id: str = "melodex-tiny"
    noises_imports: bool = False  # the worker noises an import for a variation (`ModelInfo`)

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.samples_per_frame

    @classmethod
    def from_model(cls, info: ModelInfo) -> LatentGeometry:
        """The geometry a worker reported for its model (`WorkerStatus.model`)."""
        return cls(
            channels=info.latent_channels,
            sample_rate=info.sample_rate,
            samples_per_frame=info.samples_per_frame,
            schedule_shift=info.schedule_shift,
            model_id=info.model_id,
            noises_imports=info.noises_imports,
        )


#: melodex-tiny: 16 channels at 23.4375 frames/s (24 kHz, 1024 samples per frame).
MELODEX_TINY_GEOMETRY = LatentGeometry()


@dataclass(frozen=True)
class SectionSpan:
    """Song frames [start_frame, end_frame) and codec-rate samples [start_sample, end_sample)."""

    start_frame: int
    end_frame: int
    start_sample: int
    end_sample: int

    @property
    def n_frames(self) -> int:
        return self.end_frame - self.start_frame

    @property
    def n_samples(self) -> int:
        return self.end_sample - self.start_sample


def audio_grid(project: Project, geometry: LatentGeometry) -> TempoGrid:
    return project.grid().with_sample_rate(geometry.sample_rate)


def bars_span(
    project: Project, section: Section, start_bar: int, end_bar: int, geometry: LatentGeometry
) -> SectionSpan:
    """Bars [start_bar, end_bar) of `section` (0 = its first bar) on the song timeline."""
    grid = audio_grid(project, geometry)
    first = section.start_bar + start_bar
    frames = grid.bar_span_frames(first, end_bar - start_bar, geometry.frame_rate)
    samples = grid.bar_span_samples(first, end_bar - start_bar)
    return SectionSpan(frames[0], frames[1], samples[0], samples[1])


def section_span(
    project: Project, section: Section, geometry: LatentGeometry, length_bars: int | None = None
) -> SectionSpan:
    return bars_span(project, section, 0, length_bars or section.length_bars, geometry)


def read_latent(read_blob: ReadBlob, ref: str) -> np.ndarray:
    return np.asarray(decode_tensor(read_blob(ref), LATENT), dtype=np.float32)


def read_noise(read_blob: ReadBlob, ref: str) -> np.ndarray:
    return np.asarray(decode_tensor(read_blob(ref), NOISE), dtype=np.float32)


def read_audio(read_blob: ReadBlob, ref: str) -> np.ndarray:
    return np.asarray(decode_tensor(read_blob(ref), AUDIO_TENSOR), dtype=np.float32).reshape(-1)


def in_latent_space(take: Take, geometry: LatentGeometry) -> bool:
    """Whether `take`'s latents are the model in use's (same frame rate and audio rate): a take
    another model rendered cannot be context, repainted, extended or varied by this one."""
    return (abs(take.latent_frame_rate - geometry.frame_rate) < 1e-6
            and take.audio_sample_rate == geometry.sample_rate)


def check_latent_space(take: Take, geometry: LatentGeometry) -> None:
    """Refuse, with what to do, to work from a take another model rendered."""
    if not in_latent_space(take, geometry):
        raise OperationError(
            f"take {take.display_name} was rendered by {take.model_id}, whose latents "
            f"{geometry.model_id} cannot read: regenerate the section with {geometry.model_id}, "
            f"or switch the model back to {take.model_id} (Preferences)")


def fit_frames(latent: np.ndarray, n_frames: int, what: str) -> np.ndarray:
    """A take latent fitted to a section span of `n_frames`. A section moved to a position
    where its bars round to one frame more or less is fitted by repeating or dropping the last
    frame; anything further off means the take no longer belongs to the section's length."""
    have = latent.shape[-1]
    if abs(have - n_frames) > 1:
        raise OperationError(
            f"{what} covers {have} latent frames but the section now has {n_frames}: its length "
            "or tempo changed since it was rendered; regenerate it first"
        )
    if have >= n_frames:
        return latent[:, :n_frames]
    return np.concatenate([latent, latent[:, -1:]], axis=1)


def fit_samples(audio: np.ndarray, n_samples: int, samples_per_frame: int, what: str) -> np.ndarray:
    """Take audio fitted to `n_samples` (same rule as `fit_frames`, at most one frame off)."""
    have = audio.shape[-1]
    if abs(have - n_samples) > samples_per_frame:
        raise OperationError(
            f"{what} has {have} samples but the section now has {n_samples}: its length or "
            "tempo changed since it was rendered; regenerate it first"
        )
    if have >= n_samples:
        return audio[:n_samples]
    return np.concatenate([audio, np.repeat(audio[-1:], n_samples - have)])


def compose_song_latents(
    project: Project,
    read_blob: ReadBlob,
    geometry: LatentGeometry,
    start_frame: int,
    end_frame: int,
    skip_section_id: str,
) -> tuple[np.ndarray, np.ndarray, dict[str, tuple[int, int]]]:
    """Latents [C, n] of song frames [start_frame, end_frame) from every other section's active
    take, a mask of the frames some take covers (the rest is zeros), and which takes cover
    which song frames. A take that no longer fits its section (rendered before the section's
    tempo or length changed: it plays stretched, but its latent covers other frames) is not
    context, as another model's is not."""
    n = end_frame - start_frame
    latents = np.zeros((geometry.channels, n), dtype=np.float32)
    known = np.zeros(n, dtype=bool)
    used: dict[str, tuple[int, int]] = {}
    for section in project.sections:
        take = section.active_take
        if (section.id == skip_section_id or take is None or take.final_latent is None
                or not in_latent_space(take, geometry)):  # another model's: no context
            continue
        if tempo_factor(take.bpm, take.meter, project.section_bpm(section),
                        str(project.section_meter(section))) != 1.0:
            continue  # it plays stretched: its latent is of another tempo
        span = section_span(project, section, geometry)
        lo, hi = max(span.start_frame, start_frame), min(span.end_frame, end_frame)
        if lo >= hi:
            continue
        try:
            latent = fit_frames(read_latent(read_blob, take.final_latent), span.n_frames,
                                f"take {take.display_name}")
        except OperationError:  # stale: rendered at another tempo or length
            continue
        latents[:, lo - start_frame : hi - start_frame] = latent[
            :, lo - span.start_frame : hi - span.start_frame
        ]
        known[lo - start_frame : hi - start_frame] = True
        used[take.id] = (span.start_frame, span.end_frame)
    return latents, known, used


@dataclass(frozen=True)
class RenderWindow:
    """The frames a job sees: `start` is a song frame; the section sits at `keep` inside it."""

    start: int
    frames: int
    span: SectionSpan
    source: np.ndarray
    context_take_ids: tuple[str, ...] = ()  # the neighbours' takes inside the window

    @property
    def keep(self) -> tuple[int, int]:
        return self.span.start_frame - self.start, self.span.end_frame - self.start

    def to_window_frames(self, song_start: int, song_end: int) -> tuple[int, int]:
        return song_start - self.start, song_end - self.start

    def decode_span(self, geometry: LatentGeometry) -> tuple[int, int]:
        """The section's samples, counted from the window's first sample."""
        origin = self.start * geometry.samples_per_frame
        return self.span.start_sample - origin, self.span.end_sample - origin


def build_window(
    project: Project,
    read_blob: ReadBlob,
    geometry: LatentGeometry,
    section: Section,
    span: SectionSpan,
    own_latent: np.ndarray | None = None,
    context_frames: int = DEFAULT_CONTEXT_FRAMES,
) -> RenderWindow:
    """The section's span plus the contiguous neighbour context, with the source latent:
    neighbours' latents outside the section, `own_latent` (or zeros) on the section."""
    lo = max(0, span.start_frame - context_frames)
    hi = span.end_frame + context_frames
    neighbours, known, used = compose_song_latents(
        project, read_blob, geometry, lo, hi, skip_section_id=section.id
    )
    left = 0
    while left < span.start_frame - lo and known[span.start_frame - lo - 1 - left]:
        left += 1
    right = 0
    while right < hi - span.end_frame and known[span.end_frame - lo + right]:
        right += 1
    start, end = span.start_frame - left, span.end_frame + right
    source = neighbours[:, start - lo : end - lo].copy()
    if own_latent is not None:
        if own_latent.shape != (geometry.channels, span.n_frames):
            raise OperationError(
                f"the source latent has shape {own_latent.shape}, the section needs "
                f"{(geometry.channels, span.n_frames)}"
            )
        source[:, left : left + span.n_frames] = own_latent
    return RenderWindow(start=start, frames=end - start, span=span, source=source,
                        context_take_ids=tuple(take_id for take_id, (lo, hi) in used.items()
                                               if lo < end and start < hi))


def take_latent_for_span(
    take: Take, read_blob: ReadBlob, span: SectionSpan, geometry: LatentGeometry
) -> np.ndarray:
    if take.final_latent is None:
        raise OperationError(f"take {take.display_name} has no latent to work from")
    check_latent_space(take, geometry)
    return fit_frames(
        read_latent(read_blob, take.final_latent), span.n_frames, f"take {take.display_name}"
    )


def take_audio_for_span(
    take: Take, read_blob: ReadBlob, span: SectionSpan, geometry: LatentGeometry
) -> np.ndarray:
    if take.audio is None:
        raise OperationError(f"take {take.display_name} has no rendered audio")
    if take.audio_sample_rate != geometry.sample_rate:
        raise OperationError(
            f"take {take.display_name} is at {take.audio_sample_rate} Hz, the model at "
            f"{geometry.sample_rate} Hz"
        )
    return fit_samples(
        read_audio(read_blob, take.audio),
        span.n_samples,
        geometry.samples_per_frame,
        f"take {take.display_name}",
    )
