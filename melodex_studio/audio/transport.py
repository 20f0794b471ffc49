"""The transport: play, pause, stop, seek, loop and bar-synced swaps over an output backend.

Threading: every method is for the UI thread (one thread). The audio thread only runs
`PlaybackEngine.render`; the transport talks to it through the engine's request slots while the
stream runs and applies changes directly while it is stopped. Nothing is ever called from the
audio thread into the UI: the UI polls `playhead` (a number) or `poll()` at screen rate.

Sample rates: the transport plays at the backend's rate (`output_rate`). Buffers given at
another rate are resampled once, here, when they are loaded or swapped in (render the mixer at
`output_rate` to skip that). Positions (`playhead`, seek, loop) are samples at `output_rate`;
`grid` (the project's tempo grid at that rate) converts them to bars and seconds.

Stop vs pause: pause keeps the playhead where it is; stop returns it to where play started
(so pressing play again re-auditions the same passage). At the end of the song (no loop)
playback stops by itself at the end; play from there starts over from 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np

from melodex_studio.audio.backends import OutputBackend
from melodex_studio.audio.engine import LoopRange, PlaybackEngine
from melodex_studio.audio.errors import AudioDeviceError
from melodex_studio.audio.fades import DEFAULT_CROSSFADE_SECONDS, seconds_to_samples
from melodex_studio.audio.metronome import DEFAULT_CLICK_GAIN_DB, ClickTrack
from melodex_studio.audio.resample import resample
from melodex_studio.audio.swap import (
    SwapRequest,
    bar_line_samples,
    build_swap_request,
    landing_sample,
)
from melodex_studio.music.meter import Meter
from melodex_studio.music.tempo import TempoGrid


class TransportState(StrEnum):
    STOPPED = "stopped"
    PLAYING = "playing"
    PAUSED = "paused"
    #: The device failed (none, or lost while playing); `last_error` says what to do.
    DEVICE_ERROR = "device_error"


@dataclass(frozen=True)
class TransportStatus:
    """A snapshot for the UI's screen-rate timer."""

    state: TransportState
    position: int
    seconds: float
    bar: float
    length: int
    loop: tuple[int, int] | None
    swap_pending: bool
    last_error: str | None
    underruns: int


class Transport:
    """Playback control over one backend. See the module docstring for the rules."""

    def __init__(
        self,
        backend: OutputBackend,
        grid: TempoGrid | None = None,
        crossfade_seconds: float = DEFAULT_CROSSFADE_SECONDS,
    ) -> None:
        self.backend = backend
        self.engine = PlaybackEngine()
        self.crossfade_seconds = crossfade_seconds
        self._grid = (grid or TempoGrid(120.0, Meter(4, 4), backend.sample_rate)).with_sample_rate(
            backend.sample_rate
        )
        self._state = TransportState.STOPPED
        self._last_error: str | None = None
        self._device_failure: str | None = None  # written by the backend's thread
        self._play_start = 0
        self._bar_lines: tuple[int, ...] = ()
        self._source: tuple[np.ndarray, int] | None = None
        self._metronome_on = False
        self._click_gain_db = DEFAULT_CLICK_GAIN_DB  # the metronome's and the count-in's
        self._count_in_bars = 0
        # Everything handed to the callback (swap requests with their song-sized buffers,
        # click tracks), kept until the engine has let go of it: the last reference is dropped
        # here on the UI thread, so no free ever runs in the audio callback.
        self._handed: list[object] = []
        self._unused_once: set[int] = set()  # ids of handed objects unused at the last check

    # --- properties the UI reads ---------------------------------------------------------------

    @property
    def output_rate(self) -> int:
        return self.backend.sample_rate

    @property
    def grid(self) -> TempoGrid:
        return self._grid

    @property
    def playhead(self) -> int:
        """The playback position in samples at `output_rate` (cheap: one array read)."""
        return int(self.engine.playhead[0])

    @property
    def length(self) -> int:
        return len(self.engine.buffer)

    @property
    def state(self) -> TransportState:
        return self._state

    @property
    def last_error(self) -> str | None:
        return self._last_error

    @property
    def crossfade_samples(self) -> int:
        """A take switch's crossfade; at least one sample (0 ms in Preferences: a cut)."""
        return max(1, seconds_to_samples(self.crossfade_seconds, self.output_rate))

    @property
    def guard_samples(self) -> int:
        """How far ahead of the playhead a bar line must be for a swap to land on it."""
        return self.crossfade_samples + self.backend.block_frames

    def poll(self) -> TransportStatus:
        """Housekeeping plus a snapshot; call it from the UI timer (e.g. every 16-33 ms)."""
        self._release_retired()
        failure = self._device_failure
        if failure is not None:
            self._device_failure = None
            self.backend.stop()
            self.engine.apply_requests_now()
            self._last_error = failure
            self._state = TransportState.DEVICE_ERROR
        elif self._state is TransportState.PLAYING and self.engine.reached_end:
            self.backend.stop()
            self.engine.apply_requests_now()
            self._state = TransportState.STOPPED
        position = self.playhead
        loop = self.engine.loop
        return TransportStatus(
            state=self._state,
            position=position,
            seconds=self._grid.sample_to_seconds(position),
            bar=self._grid.sample_to_bar(position),
            length=self.length,
            loop=None if loop is None else (loop.start, loop.end),
            swap_pending=self.engine.swap_pending,
            last_error=self._last_error,
            underruns=self.backend.stats.underruns,
        )

    @property
    def metronome_on(self) -> bool:
        return self._metronome_on

    # --- content --------------------------------------------------------------------------------

    def set_grid(self, grid: TempoGrid) -> None:
        """The project's tempo grid (any rate; kept at `output_rate`)."""
        self._grid = grid.with_sample_rate(self.output_rate)
        self._bar_lines = ()
        self._update_clicks()

    def set_metronome(self, enabled: bool, gain_db: float = DEFAULT_CLICK_GAIN_DB) -> None:
        """Click every counted beat (accented downbeats) on top of the song, also while playing;
        the clicks never reach the mix or an export."""
        self._click_gain_db = gain_db
        self._metronome_on = bool(enabled)
        self._update_clicks()

    def set_count_in(self, bars: int) -> None:
        """Play `bars` bars of metronome clicks before the song each time play starts (0: off);
        the playhead waits at its place meanwhile."""
        if not 0 <= bars <= 4:
            raise ValueError(f"a count-in is 0 to 4 bars, not {bars}")
        self._count_in_bars = int(bars)

    @property
    def count_in_bars(self) -> int:
        return self._count_in_bars

    def _count_in(self) -> np.ndarray | None:
        """The clicks of the count-in at the output rate (accented downbeats), or None; at the
        tempo and in the meter in force where playback starts."""
        if not self._count_in_bars:
            return None
        # Half a sample on: a bar line rounds to its sample, often just before the exact line.
        bar = self._grid.sample_to_bar(self.playhead + 0.5)
        grid = TempoGrid(self._grid.bpm_at(bar), self._grid.meter_at(bar), self._grid.sample_rate)
        length = grid.bar_to_sample(self._count_in_bars)
        clicks = ClickTrack.for_grid(grid, length, self._click_gain_db)
        audio = np.zeros((length, 1), dtype=np.float32)
        clicks.mix_into(audio, 0, 0, length)
        return audio[:, 0]

    def _update_clicks(self, length: int | None = None) -> None:
        if not self._metronome_on:
            self.engine.metronome = None
            return
        length = self.length if length is None else length
        self.engine.metronome = ClickTrack.for_grid(self._grid, length, self._click_gain_db)
        self._hand_over(self.engine.metronome)

    def _prepare(self, buffer: np.ndarray, sample_rate: int) -> np.ndarray:
        data = np.asarray(buffer, dtype=np.float32)
        if data.ndim != 1:
            raise ValueError(f"playback buffers are mono (1-D), got shape {data.shape}")
        self._source = (data, sample_rate)
        return resample(data, sample_rate, self.output_rate)

    def _bar_lines_for(self, length: int) -> tuple[int, ...]:
        if not self._bar_lines or self._bar_lines[-1] < length:
            self._bar_lines = bar_line_samples(self._grid, length)
        return self._bar_lines

    def load(self, buffer: np.ndarray, sample_rate: int | None = None) -> None:
        """Play `buffer` from now on: at once when stopped, with a short crossfade when playing.
        The playhead keeps its position (clamped to the new length)."""
        data = self._prepare(buffer, sample_rate or self.output_rate)
        request = build_swap_request(
            data, 0, self.crossfade_samples, self._bar_lines_for(len(data)), immediate=True
        )
        self._submit(request)
        self._extend_clicks(len(data))
        if not self.backend.running:
            self.seek(min(self.playhead, len(data)))

    def swap_at_next_bar(self, buffer: np.ndarray, sample_rate: int | None = None) -> int:
        """Switch to `buffer` at the next bar line (see `audio.swap` for the rule) and return the
        sample where the crossfade will start. When stopped the switch is immediate."""
        data = self._prepare(buffer, sample_rate or self.output_rate)
        position = self.playhead
        loop = self.engine.loop
        switch = landing_sample(
            self._grid,
            position,
            self.guard_samples,
            None if loop is None else (loop.start, loop.end),
        )
        request = build_swap_request(
            data, switch, self.crossfade_samples, self._bar_lines_for(len(data))
        )
        self._submit(request)
        self._extend_clicks(len(data))
        return switch if self.backend.running else position

    def _extend_clicks(self, length: int) -> None:
        click = self.engine.metronome
        if click is not None and click.positions[-1] < length:
            self._update_clicks(length)

    def _hand_over(self, item: object) -> None:
        self._handed.append(item)

    def _release_retired(self) -> None:
        """Drop what the engine no longer uses (here, on the UI thread, not in the callback).

        While the stream runs, something must be unused at two checks in a row: between the
        two, the callback has returned at least once, so no local variable of its still holds
        it (`PlaybackEngine.in_use` says what the engine itself still holds)."""
        in_use = {id(item) for item in self.engine.in_use()}
        settled = not self.backend.running  # no callback can be running: no second check
        kept: list[object] = []
        unused: set[int] = set()
        for item in self._handed:
            key = id(item)
            if key in in_use:
                kept.append(item)
            elif not settled and key not in self._unused_once:
                kept.append(item)
                unused.add(key)
        self._handed, self._unused_once = kept, unused

    def _submit(self, request: SwapRequest) -> None:
        self._hand_over(request)
        self.engine.request_swap(request)
        if not self.backend.running:
            self.engine.apply_requests_now()
        self._release_retired()

    # --- transport controls ---------------------------------------------------------------------

    def play(self) -> bool:
        """Start playing from the playhead. False (and `last_error` set) if the device fails."""
        if self._state is TransportState.PLAYING and self.backend.running:
            return True
        self.engine.apply_requests_now()
        if self.playhead >= self.length:
            self.seek(0)
        self._play_start = self.playhead
        self._device_failure = None
        self.engine.preroll = self._count_in()  # no callback runs yet: safe to set
        if self.engine.preroll is not None:
            self._hand_over(self.engine.preroll)
        try:
            self.backend.start(self.engine.render, self._on_backend_finished)
        except AudioDeviceError as error:
            self._last_error = str(error)
            self._state = TransportState.DEVICE_ERROR
            return False
        self._last_error = None
        self._state = TransportState.PLAYING
        return True

    def _on_backend_finished(self, message: str | None) -> None:
        # Backend thread: store only; `poll()` turns it into a state on the UI thread.
        self._device_failure = message or "Playback stopped unexpectedly."

    def pause(self) -> None:
        self.backend.stop()
        self.engine.apply_requests_now()
        if self._state is TransportState.PLAYING:
            self._state = TransportState.PAUSED

    def stop(self) -> None:
        """Stop and return the playhead to where play started."""
        was_running = self._state in (TransportState.PLAYING, TransportState.PAUSED)
        self.backend.stop()
        self.engine.apply_requests_now()
        if was_running:
            self.seek(self._play_start)
        if self._state is not TransportState.DEVICE_ERROR:
            self._state = TransportState.STOPPED

    def seek(self, sample: int) -> None:
        """Move the playhead (clamped to the buffer); exact to the sample, also while playing."""
        target = max(0, min(int(sample), self.length))
        self.engine.request_seek(target)
        if not self.backend.running:
            self.engine.apply_requests_now()

    def seek_bar(self, bar: float) -> None:
        self.seek(self._grid.bar_to_sample(bar))

    def set_loop(self, start: int, end: int) -> None:
        """Loop samples [start, end); wraps on the exact sample inside the callback."""
        start = max(0, int(start))
        end = min(int(end), self.length) if self.length else int(end)
        self.engine.loop = LoopRange(start, end)

    def set_loop_bars(self, start_bar: int, n_bars: int) -> None:
        self.set_loop(*self._grid.bar_span_samples(start_bar, n_bars))

    def clear_loop(self) -> None:
        self.engine.loop = None

    def set_backend(self, backend: OutputBackend) -> None:
        """Switch output device; the loaded buffer is re-prepared at the new rate."""
        was_playing = self._state is TransportState.PLAYING
        position_seconds = self._grid.sample_to_seconds(self.playhead)
        loop = self.engine.loop
        self.backend.stop()
        self.backend.close()
        self.engine.apply_requests_now()
        old_rate = self.output_rate
        self.backend = backend
        self.set_grid(self._grid)  # at the new device's rate; rebuilds the clicks
        self._state = TransportState.STOPPED
        if self._source is not None:
            source, rate = self._source
            self.load(source, rate)
        self.seek(self._grid.seconds_to_sample(position_seconds))
        if loop is not None:
            scale = backend.sample_rate / old_rate
            self.set_loop(round(loop.start * scale), round(loop.end * scale))
        if was_playing:
            self.play()

    def close(self) -> None:
        self.backend.stop()
        self.backend.close()
        self._state = TransportState.STOPPED
