"""The project player: keeps the transport's buffer in step with the project, for the UI.

Give it every new project snapshot (after each edit or finished render); it rebuilds the
arrangement from cached, resampled take audio, lets the mixer re-render only the sections that
changed, and hands the new buffer to the transport: at the next bar line while playing (the
take swap a musician hears), at once when stopped. A changed tempo, meter or rate loads at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from melodex_studio.audio.arrangement import ReadTakeAudio, TakeAudioCache, arrangement_from_project
from melodex_studio.audio.mixer import Mixer, MixUpdate
from melodex_studio.audio.transport import Transport, TransportState

if TYPE_CHECKING:
    from melodex_studio.music.tempo import TempoGrid
    from melodex_studio.project.models import Project


class ProjectPlayer:
    """Project snapshots in, transport buffers out. One (UI) thread."""

    def __init__(
        self,
        transport: Transport,
        read_audio: ReadTakeAudio,
        cache: TakeAudioCache | None = None,
    ) -> None:
        self.transport = transport
        self.read_audio = read_audio
        self.cache = cache if cache is not None else TakeAudioCache()
        self._mixer: Mixer | None = None
        self._timing: tuple[TempoGrid, int] | None = None

    @property
    def mixer(self) -> Mixer | None:
        return self._mixer

    def show(self, project: Project) -> MixUpdate:
        """Make the transport play `project`; returns what the mixer re-rendered.
        Raises MissingTakeAudioError if an active take's audio cannot be read."""
        rate = self.transport.output_rate
        arrangement = arrangement_from_project(project, self.read_audio, rate, self.cache)
        timing = (project.grid(), rate)  # tempo map and meter: a change retimes the song
        retimed = timing != self._timing
        self._timing = timing
        if retimed:
            self.transport.set_grid(project.grid())
        if self._mixer is None or retimed:
            self._mixer = Mixer(arrangement, self.transport.crossfade_seconds)
            update = MixUpdate(self._mixer.buffer, 0, len(self._mixer.buffer))
            self.transport.load(update.buffer, rate)
            return update
        update = self._mixer.update(arrangement)
        if not update.changed:
            return update
        if self.transport.state is TransportState.PLAYING:
            self.transport.swap_at_next_bar(update.buffer, rate)
        else:
            self.transport.load(update.buffer, rate)
        return update
