"""The arrangement: audio clips on a sample timeline, and how a project becomes one.

The mixer only knows `Arrangement` and `ArrangementClip` (arrays and sample positions), so it can
be built, tested and benchmarked without the project model. `arrangement_from_project` is the
adapter: for each section it takes the active take's cached audio, resamples it (soxr, once,
cached) from the take's rate to the output rate, and places it where the tempo grid says the take's
region starts. Takes are rendered with their neighbours as latent context, so placing them at
grid positions is what makes section boundaries seamless; the mixer only crossfades the few
samples where a decoded take runs past the next section's start.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import pairwise
from typing import TYPE_CHECKING

import numpy as np
from safetensors.numpy import load as load_safetensors
from safetensors.numpy import save as save_safetensors

from melodex_studio.audio.errors import MissingTakeAudioError
from melodex_studio.audio.fades import db_to_gain
from melodex_studio.audio.resample import resample
from melodex_studio.audio.stretch import stretched, tempo_factor

if TYPE_CHECKING:
    from melodex_studio.music.tempo import TempoGrid
    from melodex_studio.project.models import Project, Section, Take

#: The safetensors key that holds a take's mono float32 audio.
TAKE_AUDIO_KEY = "audio"

#: Reads a take's decoded audio (mono float32 at `take.audio_sample_rate`), e.g. from the store.
ReadTakeAudio = Callable[["Take"], np.ndarray]


@dataclass(frozen=True, eq=False)
class ArrangementClip:
    """Mono float32 `audio` at the arrangement's rate, starting at `start_sample`.

    `gain` is linear (section gain); a muted clip keeps its place on the timeline (so the clip
    before it still ends there) but contributes silence.
    """

    section_id: str
    start_sample: int
    audio: np.ndarray
    gain: float = 1.0
    muted: bool = False

    def __post_init__(self) -> None:
        audio = np.asarray(self.audio)
        if audio.ndim != 1:
            raise ValueError(f"clip {self.section_id}: audio must be mono (1-D), got {audio.shape}")
        if audio.dtype != np.float32:
            audio = audio.astype(np.float32)
        if audio.flags.writeable:
            # Clips share cached take audio; nobody may write into it behind the cache's back.
            audio = audio.view()
            audio.flags.writeable = False
        object.__setattr__(self, "audio", audio)
        if self.start_sample < 0:
            raise ValueError(f"clip {self.section_id} starts before the song ({self.start_sample})")

    @property
    def end_sample(self) -> int:
        """One past the clip's last sample (its audio may run past its section's end)."""
        return self.start_sample + len(self.audio)

    @property
    def effective_gain(self) -> float:
        return 0.0 if self.muted else self.gain

    def same_sound(self, other: ArrangementClip) -> bool:
        """True when swapping `other` for this clip cannot change a single output sample."""
        return (
            self.section_id == other.section_id
            and self.start_sample == other.start_sample
            and self.audio is other.audio
            and self.effective_gain == other.effective_gain
        )


@dataclass(frozen=True, eq=False)
class Arrangement:
    """Clips sorted by start (strictly increasing: sections never overlap), the song length from
    the grid, and the master gain. The render is at least `length_samples` long."""

    sample_rate: int
    length_samples: int
    clips: tuple[ArrangementClip, ...] = ()
    master_gain: float = 1.0

    def __post_init__(self) -> None:
        clips = tuple(sorted(self.clips, key=lambda clip: clip.start_sample))
        for before, after in pairwise(clips):
            if before.start_sample == after.start_sample:
                raise ValueError(
                    f"clips {before.section_id} and {after.section_id} start on the same sample"
                )
        ids = [clip.section_id for clip in clips]
        if len(set(ids)) != len(ids):
            raise ValueError("two clips belong to the same section")
        object.__setattr__(self, "clips", clips)
        if self.sample_rate <= 0 or self.length_samples < 0:
            raise ValueError(
                f"bad arrangement: rate {self.sample_rate} Hz, length {self.length_samples}"
            )

    def clip(self, section_id: str) -> ArrangementClip | None:
        for clip in self.clips:
            if clip.section_id == section_id:
                return clip
        return None


# --- take audio blobs ---------------------------------------------------------------------------


def decode_take_audio(data: bytes) -> np.ndarray:
    """A take's audio blob (safetensors bytes holding {"audio": float32 [n]}) as a float32 array."""
    tensors = load_safetensors(data)
    if TAKE_AUDIO_KEY not in tensors:
        raise MissingTakeAudioError(
            f"the audio blob holds {sorted(tensors)} but no {TAKE_AUDIO_KEY!r} tensor"
        )
    audio = np.asarray(tensors[TAKE_AUDIO_KEY], dtype=np.float32).reshape(-1)
    return audio


def encode_take_audio(audio: np.ndarray) -> bytes:
    """The safetensors bytes of a take's mono audio (the inverse of `decode_take_audio`)."""
    mono = np.ascontiguousarray(np.asarray(audio, dtype=np.float32).reshape(-1))
    return save_safetensors({TAKE_AUDIO_KEY: mono})


@dataclass
class TakeAudioCache:
    """Take audio already resampled to an output rate (and stretched to a section's tempo), by
    (audio blob, take rate, output rate, tempo factor).

    Blobs are content-addressed and immutable, so an entry never goes stale; the cache returns
    the same array object for an unchanged take, which is how the mixer knows a section did not
    change. Bounded so a long session of auditioning does not grow without limit.
    """

    max_entries: int = 128
    max_bytes: int = 1 << 30  # stretched copies of long takes add up: about 18 five-minute takes
    _entries: OrderedDict[tuple[str, int, int, float], np.ndarray] = field(
        default_factory=OrderedDict)

    def get(self, take: Take, read_audio: ReadTakeAudio, to_rate: int,
            factor: float = 1.0) -> np.ndarray:
        """The take's audio at `to_rate`, played `factor` times as fast (`audio.stretch`)."""
        if take.audio is None:
            raise MissingTakeAudioError(f"take {take.display_name} has no rendered audio yet")
        key = (take.audio, take.audio_sample_rate, to_rate, factor)
        cached = self._entries.get(key)
        if cached is not None:
            self._entries.move_to_end(key)
            return cached
        raw = np.asarray(read_audio(take), dtype=np.float32).reshape(-1)
        converted = np.array(resample(raw, take.audio_sample_rate, to_rate), dtype=np.float32)
        converted = np.array(stretched(converted, to_rate, factor), dtype=np.float32)
        converted.flags.writeable = False
        self._entries[key] = converted
        while len(self._entries) > 1 and (len(self._entries) > self.max_entries
                                          or self.nbytes > self.max_bytes):
            self._entries.popitem(last=False)
        return converted

    @property
    def nbytes(self) -> int:
        return sum(audio.nbytes for audio in self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)


# --- the adapter ---------------------------------------------------------------------------------


def clip_for_section(
    section: Section,
    grid: TempoGrid,
    read_audio: ReadTakeAudio,
    cache: TakeAudioCache | None = None,
) -> ArrangementClip | None:
    """The clip that plays `section` on a grid at the output rate, or None if it has no take.

    The take's region starts `region_start_bar` bars into the section; its audio is resampled
    to `grid.sample_rate`, and time-stretched to the section's tempo when it was rendered at
    another (in the same meter).
    """
    take = section.active_take
    if take is None or take.audio is None:
        return None
    cache = cache if cache is not None else TakeAudioCache()
    factor = tempo_factor(take.bpm, take.meter, grid.bpm_at(section.start_bar),
                          str(grid.meter_at(section.start_bar)))
    try:
        audio = cache.get(take, read_audio, grid.sample_rate, factor)
    except (KeyError, OSError, ValueError) as error:
        raise MissingTakeAudioError(
            f"cannot read the audio of {section.span_text}, take {take.display_name}: {error}"
        ) from error
    return _section_clip(section, grid, audio, take.region_start_bar)


def _section_clip(
    section: Section, grid: TempoGrid, audio: np.ndarray, region_start_bar: int = 0
) -> ArrangementClip:
    """`audio` (at the grid's rate) placed `region_start_bar` bars into `section`, with the
    section's gain and mute."""
    return ArrangementClip(
        section_id=section.id,
        start_sample=grid.bar_to_sample(section.start_bar + region_start_bar),
        audio=audio,
        gain=db_to_gain(section.gain_db),
        muted=section.muted,
    )


@dataclass(frozen=True, eq=False)
class PreviewAudio:
    """What a section plays instead of its active take while it renders: the worker's rough
    decode (mono float32 `audio` at `sample_rate`) of a render of the section that started at
    bar `start_bar`, `length_bars` long, at `bpm` in `meter`. If the section or its timing
    has changed since, the preview no longer fits and the take plays instead."""

    audio: np.ndarray
    sample_rate: int
    start_bar: int
    length_bars: int
    bpm: float
    meter: str

    def fits(self, project: Project, section: Section) -> bool:
        return (section.start_bar, section.length_bars, project.section_bpm(section),
                str(project.section_meter(section))) == (
            self.start_bar, self.length_bars, self.bpm, self.meter)


def with_previews(
    arrangement: Arrangement, project: Project, previews: dict[str, PreviewAudio]
) -> Arrangement:
    """`arrangement` (of `project`) with each rendering section's active take replaced by its
    preview, resampled to the arrangement's rate and placed on the section's first bar. A
    preview that no longer fits its section (`PreviewAudio.fits`) is left out: the take keeps
    playing."""
    rate = arrangement.sample_rate
    grid = project.grid().with_sample_rate(rate)
    clips = {clip.section_id: clip for clip in arrangement.clips}
    for section in project.sections:
        preview = previews.get(section.id)
        if preview is not None and preview.fits(project, section):
            audio = np.asarray(resample(preview.audio, preview.sample_rate, rate), np.float32)
            clips[section.id] = _section_clip(section, grid, audio)
    return Arrangement(rate, arrangement.length_samples, tuple(clips.values()),
                       arrangement.master_gain)


def undecoded_takes_message(project: Project) -> str | None:
    """Why the project cannot be exported as it is: the active takes that have no decoded
    audio (rendered to a latent but never decoded, or whose render did not finish), named by
    section and take; None when every active take has audio. Playback leaves such sections
    silent, but an export must not quietly drop a section the musician chose a take for."""
    problems = []
    for section in project.sections:
        take = section.active_take
        if take is None or take.audio is not None:
            continue
        state = "has a latent but no decoded audio" if take.final_latent else "has no audio"
        problems.append(f"section {section.span_text}, take {take.display_name} {state}")
    if not problems:
        return None
    return (
        f"{'; '.join(problems)}: decode {'it' if len(problems) == 1 else 'them'} (render the "
        "section again) or make another take active before exporting"
    )


def arrangement_from_project(
    project: Project,
    read_audio: ReadTakeAudio,
    sample_rate: int | None = None,
    cache: TakeAudioCache | None = None,
) -> Arrangement:
    """Every section's active take placed on the grid at `sample_rate` (default: the project's).

    Sections without a rendered take play as silence. Pass the same `cache` on every call so
    unchanged takes are neither re-read nor re-resampled (and the mixer re-renders only the
    sections that changed).
    """
    rate = project.sample_rate if sample_rate is None else int(sample_rate)
    grid = project.grid().with_sample_rate(rate)
    cache = cache if cache is not None else TakeAudioCache()
    clips = []
    for section in project.sections:
        clip = clip_for_section(section, grid, read_audio, cache)
        if clip is not None:
            clips.append(clip)
    return Arrangement(
        sample_rate=rate,
        length_samples=grid.bar_to_sample(project.length_bars),
        clips=tuple(clips),
        master_gain=db_to_gain(project.master.gain_db),
    )
