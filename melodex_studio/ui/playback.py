"""The UI side of playback: owns the transport, keeps its buffer in step with the project and
polls the playhead on a GUI timer at screen rate (Friture's pattern: the audio callback never
calls into Qt; we read a number).

Keeping the buffer in step is `audio.player.ProjectPlayer`'s job split in two: reading and
resampling take audio and mixing the changed spans run in the file executor (which owns the
Mixer); only handing the finished buffer to the transport (a pointer swap at the next bar
line while playing) runs on the main thread.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QObject, QTimer, Signal

from melodex_studio.audio.arrangement import (
    PreviewAudio,
    TakeAudioCache,
    arrangement_from_project,
    with_previews,
)
from melodex_studio.audio.backends import OutputBackend, SoundDeviceBackend
from melodex_studio.audio.errors import AudioError
from melodex_studio.audio.fades import DEFAULT_CROSSFADE_SECONDS
from melodex_studio.audio.mixer import Mixer
from melodex_studio.audio.transport import Transport, TransportState
from melodex_studio.music.tempo import TempoGrid
from melodex_studio.project.commands import SetActiveTake
from melodex_studio.project.project_model import Project
from melodex_studio.project.take import Take
from melodex_studio.settings.model import AudioSettings
from melodex_studio.ui.context import StudioContext

log = logging.getLogger(__name__)

#: The previews dict when none are heard (one object: prepared mixes are matched by identity).
_NO_PREVIEWS: dict = {}
POLL_INTERVAL_MS = 16  # ~60 Hz: the playhead moves as smoothly as the screen refreshes
PREPARE_DELAY_MS = 40  # coalesce a burst of edits into one buffer update


@dataclass(frozen=True, eq=False)
class PreparedMix:
    """A mixed buffer of `project` (with `previews`) at `rate`; `version` changes whenever the
    audio did."""

    project: Project
    previews: dict[str, PreviewAudio]
    buffer: np.ndarray
    rate: int
    version: int
    retimed: bool


@dataclass(frozen=True)
class LoopBars:
    """A loop range in whole bars [start, end) of the song."""

    start: int
    end: int

    def label(self) -> str:
        if self.end - self.start > 1:
            return f"bars {self.start + 1}-{self.end}"
        return f"bar {self.start + 1}"


def make_backend(settings: AudioSettings) -> OutputBackend:
    """The configured sound card (PortAudio). Never raises: a backend without a device says
    why in `problem`, and play reports it."""
    return SoundDeviceBackend(
        device=settings.output_device,
        sample_rate=settings.sample_rate,
        block_seconds=settings.buffer_ms / 1000.0,
    )


class PlaybackController(QObject):
    sig_position_changed = Signal(float)  # bars from the song start
    sig_state_changed = Signal(str)  # TransportState value
    sig_loop_changed = Signal(object, bool)  # LoopBars | None, enabled
    sig_message = Signal(str)  # device problems, missing audio: one line for the status bar
    sig_device_changed = Signal(str)  # description of the output

    def __init__(self, context: StudioContext, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.transport: Transport | None = None
        # Owned by the file thread (see _mix): the mixer, its take-audio cache and version.
        self.cache = TakeAudioCache()
        self._mixer: Mixer | None = None
        self._mix_timing: tuple | None = None
        self._mix_version = 0
        self._loaded_version = -1
        self._preparing_project = None
        self._play_when_ready = False
        self._read_audio: Callable[[Take], object] | None = None
        self._position_bar = 0.0
        self._state = TransportState.STOPPED
        self._loop: LoopBars | None = None
        self._loop_enabled = False
        self._follow = True
        self._metronome = False
        self._metronome_db = context.settings.value.audio.metronome_db
        self._swap_crossfade_s = context.settings.value.audio.swap_crossfade_ms / 1000.0
        self._count_in = False
        self._audition_renders = True
        # Section id -> PreviewAudio of a render in progress (main thread); replaced, never
        # mutated, so the file thread can read the dict it was given.
        self._previews: dict[str, PreviewAudio] = _NO_PREVIEWS
        self._prepared_project = None
        self._poll = QTimer(self)
        self._poll.setInterval(POLL_INTERVAL_MS)
        self._poll.timeout.connect(self.poll)
        self._prepare_timer = QTimer(self)
        self._prepare_timer.setSingleShot(True)
        self._prepare_timer.setInterval(PREPARE_DELAY_MS)
        self._prepare_timer.timeout.connect(self._prepare)
        context.signals.sig_project_changed.connect(self._prepare_timer.start)

    # -- set-up -------------------------------------------------------------------------------

    def set_backend(self, backend: OutputBackend) -> None:
        """Play through `backend` (a fresh transport the first time, a device switch later)."""
        if self.transport is None:
            self.transport = Transport(backend, self.grid(), self._swap_crossfade_s)
            self.transport.set_metronome(self._metronome, self._metronome_db)
            self.transport.set_count_in(1 if self._count_in else 0)
        else:
            self.transport.set_backend(backend)
        problem = getattr(backend, "problem", None)
        self.sig_device_changed.emit(backend.description if problem is None else "no audio device")
        if problem:
            self.sig_message.emit(problem)
        self._prepared_project = None
        self._prepare_timer.start()

    def open_device_async(self, settings: AudioSettings) -> None:
        """Find and open the configured device in the file thread (PortAudio's device scan
        can take a moment), then play through it."""
        self.context.executor.submit(
            "Open audio device", make_backend, settings,
            on_done=self.set_backend,
            on_error=lambda error: self.sig_message.emit(f"Audio: {error}"),
            context=self,
        )

    def set_audio_reader(self, read_audio: Callable[[Take], object] | None) -> None:
        """How take audio is read (the open project's blobs); a new project clears the cache."""
        self._read_audio = read_audio
        self.context.executor.submit("Reset playback", self._reset_mix)
        self._prepared_project = None
        self._prepare_timer.start()

    def _read_take_audio(self, take: Take):
        if self._read_audio is None:
            raise AudioError("no project audio to read")
        return self._read_audio(take)

    def grid(self) -> TempoGrid:
        return self.context.project.grid()

    # -- reading ------------------------------------------------------------------------------

    @property
    def position_bar(self) -> float:
        return self._position_bar

    @property
    def state(self) -> TransportState:
        return self._state

    @property
    def playing(self) -> bool:
        return self._state is TransportState.PLAYING

    @property
    def loop(self) -> LoopBars | None:
        return self._loop

    @property
    def loop_enabled(self) -> bool:
        return self._loop_enabled

    @property
    def follow(self) -> bool:
        return self._follow

    def position_seconds(self) -> float:
        return self.grid().bar_to_seconds(self._position_bar)

    # -- controls -----------------------------------------------------------------------------

    def toggle_play(self) -> None:
        if self.playing:
            self.stop()
        else:
            self.play()

    def play(self) -> bool:
        """Start playing from the playhead; if the latest edit is still being mixed in the
        background, playback starts the moment it is ready (never by mixing here)."""
        transport = self.transport
        if transport is None:
            self.sig_message.emit("Audio is still starting; try again in a moment.")
            return False
        if not self.context.project.sections:
            self.sig_message.emit("Nothing to play: add a section first.")
            return False
        problem = getattr(transport.backend, "problem", None)
        if problem:
            self.sig_message.emit(problem)
            return False
        if not _same_key((self.context.project, self._audible_previews()), self._prepared_project):
            self._play_when_ready = True
            self._prepare_timer.stop()
            self._prepare()
            self._set_state(TransportState.PLAYING)
            return True
        return self._start_transport()

    def _start_transport(self) -> bool:
        transport = self.transport
        if transport is None:
            return False
        transport.seek_bar(self._position_bar)
        if not transport.play():
            self.sig_message.emit(transport.last_error or "Playback could not start.")
            self._set_state(transport.state)
            return False
        self._poll.start()
        self._set_state(transport.state)
        return True

    def stop(self) -> None:
        """Stop; the playhead returns to where play started (press again for the same bit)."""
        self._play_when_ready = False
        if self.transport is not None:
            self.transport.stop()
            self.poll()
        self._poll.stop()
        self._set_state(TransportState.STOPPED)

    def seek_bar(self, bar: float) -> None:
        bar = max(0.0, float(bar))
        if self.transport is not None:
            self.transport.seek_bar(bar)
            if self.transport.length:  # samples at the device rate: the transport's grid
                bar = min(bar, self.transport.grid.sample_to_bar(self.transport.length))
        self._set_position(bar)

    def go_to_start(self) -> None:
        self.seek_bar(self._loop.start if self._loop and self._loop_enabled else 0)

    def go_to_end(self) -> None:
        self.seek_bar(self.context.project.length_bars)

    def set_loop(self, loop: LoopBars | None, enabled: bool | None = None) -> None:
        if loop is not None and loop.end <= loop.start:
            loop = None
        self._loop = loop
        if enabled is not None:
            self._loop_enabled = enabled and loop is not None
        if loop is None:
            self._loop_enabled = False
        self._apply_loop()
        self.sig_loop_changed.emit(self._loop, self._loop_enabled)

    def set_loop_enabled(self, enabled: bool) -> None:
        if enabled and self._loop is None:
            project = self.context.project
            if not project.sections:
                self.sig_loop_changed.emit(None, False)
                return
            self._loop = LoopBars(0, project.length_bars)
        self.set_loop(self._loop, enabled)

    def set_follow(self, follow: bool) -> None:
        self._follow = follow

    @property
    def metronome(self) -> bool:
        return self._metronome

    def set_metronome(self, enabled: bool) -> None:
        """Clicks on every counted beat, on top of playback only (exports never have them)."""
        self._metronome = bool(enabled)
        if self.transport is not None:
            self.transport.set_metronome(self._metronome, self._metronome_db)

    @property
    def count_in(self) -> bool:
        return self._count_in

    def set_count_in(self, enabled: bool) -> None:
        """One bar of clicks (at the metronome level) before each play starts."""
        self._count_in = bool(enabled)
        if self.transport is not None:
            self.transport.set_count_in(1 if self._count_in else 0)

    def set_metronome_level(self, gain_db: float) -> None:
        """How loud the downbeat click is (Preferences); heard at once if the metronome is on."""
        if gain_db != self._metronome_db:
            self._metronome_db = float(gain_db)
            self.set_metronome(self._metronome)

    def set_swap_crossfade(self, milliseconds: float) -> None:
        """How long a take switch during playback crossfades (Preferences); the next switch
        uses it. The mix itself (clip edges) keeps the export's crossfade."""
        self._swap_crossfade_s = float(milliseconds) / 1000.0
        if self.transport is not None:
            self.transport.crossfade_seconds = self._swap_crossfade_s

    def audition(self, section_id: str, take_id: str) -> None:
        """Play a take: make it the section's active take (merged with other switches of this
        section into one undo step), loop the section and start from its first bar."""
        project = self.context.project
        section = project.section(section_id)
        if section.active_take_id != take_id:
            self.context.undo.push(SetActiveTake(section_id, take_id))
        self.set_loop(LoopBars(section.start_bar, section.end_bar), True)
        if not self.playing:
            self.seek_bar(section.start_bar)
            self.play()

    @property
    def audition_renders(self) -> bool:
        return self._audition_renders

    def set_audition_renders(self, enabled: bool) -> None:
        """Hear sections that are rendering as their render grows (the worker's previews), in
        place of their active take; off: keep hearing the active take until the new one lands."""
        self._audition_renders = bool(enabled)
        self._prepare_timer.start()

    def set_render_preview(self, section_id: str, preview: PreviewAudio | None) -> None:
        """A render of `section_id` has new preview audio (None: it ended)."""
        previews = dict(self._previews)
        if preview is None:
            if previews.pop(section_id, None) is None:
                return
        else:
            previews[section_id] = preview
        self._previews = previews or _NO_PREVIEWS
        if self._audition_renders or preview is None:
            self._prepare_timer.start()

    def _audible_previews(self) -> dict[str, PreviewAudio]:
        return self._previews if self._audition_renders else _NO_PREVIEWS

    # -- polling ------------------------------------------------------------------------------

    def poll(self) -> None:
        transport = self.transport
        if transport is None:
            return
        status = transport.poll()
        self._set_position(status.bar)
        if status.state is not self._state:
            if status.state is TransportState.DEVICE_ERROR and status.last_error:
                self.sig_message.emit(status.last_error)
            self._set_state(status.state)
        if status.state is not TransportState.PLAYING:
            self._poll.stop()

    def _set_position(self, bar: float) -> None:
        if bar != self._position_bar:
            self._position_bar = bar
            self.sig_position_changed.emit(bar)

    def _set_state(self, state: TransportState) -> None:
        if state is not self._state:
            self._state = state
            self.sig_state_changed.emit(state.value)

    def _apply_loop(self) -> None:
        transport = self.transport
        if transport is None:
            return
        if self._loop is not None and self._loop_enabled:
            transport.set_loop_bars(self._loop.start, self._loop.end - self._loop.start)
        else:
            transport.clear_loop()

    # -- keeping the buffer in step -----------------------------------------------------------

    def _prepare(self) -> None:
        """Mix the current project in the file thread (reading and resampling take audio and
        rendering the changed spans), then hand the buffer to the transport here."""
        transport = self.transport
        if transport is None:
            return
        project = self.context.project
        previews = self._audible_previews()
        key = (project, previews)
        if _same_key(key, self._prepared_project) or _same_key(key, self._preparing_project):
            return
        self._preparing_project = key
        self.context.executor.submit(
            "Prepare playback", self._mix, project, previews, transport.output_rate,
            DEFAULT_CROSSFADE_SECONDS,  # clip edges as the export mixes them
            on_done=self._apply_mix,
            on_error=self._mix_failed,
            context=self,
        )

    def _mix(self, project, previews: dict[str, PreviewAudio], rate: int,
             crossfade_seconds: float) -> PreparedMix:
        """File thread only: the mixer, its cache and its version belong to that thread."""
        arrangement = arrangement_from_project(project, self._read_take_audio, rate, self.cache)
        if previews:
            arrangement = with_previews(arrangement, project, previews)
        timing = (project.grid(), rate)  # tempo map and meter: a change retimes the song
        retimed = self._mixer is None or timing != self._mix_timing
        if retimed:
            self._mixer = Mixer(arrangement, crossfade_seconds)
            changed = True
        else:
            changed = self._mixer.update(arrangement).changed
        self._mix_timing = timing
        if changed:
            self._mix_version += 1
        return PreparedMix(project, previews, self._mixer.buffer, rate, self._mix_version,
                           retimed)

    def _apply_mix(self, mix: PreparedMix) -> None:
        key = (mix.project, mix.previews)
        if _same_key(key, self._preparing_project):
            self._preparing_project = None
        transport = self.transport
        if transport is None or mix.rate != transport.output_rate:
            self._prepared_project = None
            self._prepare_timer.start()
            return
        if mix.retimed:
            transport.set_grid(mix.project.grid())
        if mix.version != self._loaded_version:
            if transport.state is TransportState.PLAYING and not mix.retimed:
                transport.swap_at_next_bar(mix.buffer, mix.rate)  # the take swap you hear
            else:
                transport.load(mix.buffer, mix.rate)
            self._loaded_version = mix.version
        self._prepared_project = key
        self._apply_loop()
        if self._play_when_ready:
            self._play_when_ready = False
            self._start_transport()
        current = (self.context.project, self._audible_previews())
        if self._preparing_project is None and not _same_key(current, key):
            # The project or the previews changed while this was mixing (a render ended or
            # was cancelled, say) and that change found this mix in flight: mix it now.
            self._prepare_timer.start()

    def _mix_failed(self, error: BaseException) -> None:
        self._preparing_project = None
        if self._play_when_ready:
            self._play_when_ready = False
            self._set_state(TransportState.STOPPED)
        self.sig_message.emit(f"Playback: {' '.join(str(error).split())}")

    def _reset_mix(self) -> None:
        """File thread: forget the mixer and cached take audio (another project's blobs)."""
        self._mixer = None
        self._mix_timing = None
        self.cache = TakeAudioCache()

    def close(self) -> None:
        self._poll.stop()
        self._prepare_timer.stop()
        self.context.signals.sig_project_changed.disconnect(self._prepare_timer.start)
        if self.transport is not None:
            self.transport.close()


def _same_key(a: tuple | None, b: tuple | None) -> bool:
    """(project, previews) pairs are compared by identity: both are replaced, never mutated."""
    return a is not None and b is not None and a[0] is b[0] and a[1] is b[1]

