"""The playback engine: the body of the audio callback, and the mailbox the UI thread writes to.

What the callback (`PlaybackEngine.render`) does, and nothing more:
1. reads three references the UI thread may have replaced (seek request, swap request, loop);
   handing work over is a single reference store on one side and a read on the other, which
   is atomic in CPython, so there are no locks, queues or condition variables;
2. copies samples from the current prepared buffer into the output array (mono buffer
   broadcast to every output channel), wrapping at the loop end on the exact sample;
3. during a swap's crossfade only, mixes the old and new buffers into the scratch memory the
   swap request brought with it (np.multiply / np.add with `out=`), then swaps the buffer
   reference;
4. adds the metronome's clicks (`ClickTrack.mix_into`) when the UI has set one, and plays
   a count-in (`preroll`) before the song when the UI has set one;
5. stores the position into `playhead` (a preallocated int64 numpy array the UI polls).

It allocates no arrays (only slice views and small ints), takes no locks, logs nothing, calls
nothing outside numpy, and emits no signals or callbacks. Everything it needs (buffers at the
device rate, fade curves, scratch) is prepared on the UI thread.

Control methods (`request_*`) are for the UI thread; `apply_requests_now` is for the UI thread
while no callback can run (the stream is stopped).
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

import numpy as np

from melodex_studio.audio.metronome import ClickTrack
from melodex_studio.audio.swap import SwapRequest

# A switch sample the playhead cannot reach: used while a swap waits for a loop wrap.
_UNREACHABLE = 1 << 62


@dataclass(frozen=True, eq=False)
class SeekRequest:
    """Jump to `sample` (each request is a new object: identity is how the callback sees it)."""

    sample: int


@dataclass(frozen=True, eq=False)
class LoopRange:
    """Play [start, end) over and over: after sample end - 1 comes sample start."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if not 0 <= self.start < self.end:
            raise ValueError(f"a loop must end after it starts, got {self.start}..{self.end}")


class PlaybackEngine:
    """Owns the playing buffer and position; see the module docstring for the threading rules."""

    def __init__(self) -> None:
        #: Published playhead (buffer sample of the next sample to be output). UI: read only.
        self.playhead = np.zeros(1, dtype=np.int64)
        #: Set by the callback when playback ran off the end of the buffer (no loop).
        self.reached_end = False
        #: The loop the callback honours; the UI replaces it with a new LoopRange or None.
        self.loop: LoopRange | None = None
        #: The metronome the callback adds; the UI replaces it with a new ClickTrack or None.
        self.metronome: ClickTrack | None = None
        #: Mono samples played before the song (a count-in); set by the UI only while no
        #: callback runs, cleared by the callback once played. The playhead waits meanwhile.
        self.preroll: np.ndarray | None = None
        self._preroll_at = 0
        #: The last swap request the callback finished (identity tells the UI it landed).
        self.last_applied_swap: SwapRequest | None = None
        #: Sample where the last swap's crossfade started, for the UI and tests.
        self.last_swap_sample = -1
        self._buffer = np.zeros(0, dtype=np.float32)
        self._position = 0
        self._seek_request: SeekRequest | None = None
        self._seek_done: SeekRequest | None = None
        self._swap_request: SwapRequest | None = None
        self._active_swap: SwapRequest | None = None
        self._switch_at = _UNREACHABLE

    # --- UI thread -------------------------------------------------------------------------

    @property
    def buffer(self) -> np.ndarray:
        """The buffer playing now (read-only for everyone but the callback)."""
        return self._buffer

    @property
    def position(self) -> int:
        return int(self.playhead[0])

    @property
    def swap_pending(self) -> bool:
        request = self._swap_request
        return request is not None and request is not self.last_applied_swap

    def in_use(self) -> tuple[object, ...]:
        """What the callback may still read: the waiting, crossfading and applied swap
        requests, the metronome and the count-in (read in the order a request moves through
        the slots, so one that moves on while this runs is still reported)."""
        return tuple(
            item
            for item in (self._swap_request, self._active_swap, self.last_applied_swap,
                         self.metronome, self.preroll)
            if item is not None
        )

    def request_seek(self, sample: int) -> None:
        self._seek_request = SeekRequest(int(sample))

    def request_swap(self, request: SwapRequest) -> None:
        """Hand a prepared swap to the callback; a newer request supersedes one not yet begun."""
        self._swap_request = request

    def apply_requests_now(self) -> None:
        """Apply pending seek and swap at once (no crossfade). Only while no callback runs."""
        request = self._swap_request
        if request is not None and request is not self.last_applied_swap:
            self._buffer = request.buffer
            self.last_applied_swap = request
            self.last_swap_sample = self._position
        self._active_swap, self._switch_at = None, _UNREACHABLE
        self.preroll, self._preroll_at = None, 0  # a stop interrupts a count-in
        seek = self._seek_request
        if seek is not None and seek is not self._seek_done:
            self._seek_done = seek
            self._position = seek.sample
            self.reached_end = False
        self.playhead[0] = self._position

    # --- audio thread ----------------------------------------------------------------------

    def render(self, out: np.ndarray) -> None:
        """Fill `out` (frames x channels, float32) with the next samples. The audio callback."""
        preroll = self.preroll
        if preroll is not None:
            start = self._preroll_at
            n = min(out.shape[0], len(preroll) - start)
            out[:n] = preroll[start : start + n, None]
            if start + n < len(preroll):
                self._preroll_at = start + n
                return
            self.preroll, self._preroll_at = None, 0
            out = out[n:]
        self._render_song(out)

    def _render_song(self, out: np.ndarray) -> None:
        frames = out.shape[0]
        seek = self._seek_request
        if seek is not self._seek_done:
            self._apply_seek(seek)
        pos = self._position
        written = 0
        click = self.metronome
        while written < frames:
            if self._active_swap is None or pos < self._switch_at:
                self._adopt_swap(pos)
            buffer = self._buffer
            loop = self.loop
            stop = len(buffer)
            looping = loop is not None and pos < loop.end and loop.start < stop
            if looping:
                stop = min(stop, loop.end)
            swap = self._active_swap
            if swap is not None and pos >= self._switch_at:
                n = self._mix_crossfade(out, written, pos, stop, swap)
                if n == 0:
                    self._finish_swap(swap)  # the fade is over (or a buffer ran out)
                    continue
            else:
                segment_stop = stop if swap is None else min(stop, self._switch_at)
                n = min(frames - written, segment_stop - pos)
                if n <= 0:
                    if looping:  # the loop reaches past the buffer's end: wrap there
                        pos = self._wrap(loop, pos)
                        continue
                    out[written:] = 0.0
                    self.reached_end = True
                    break
                out[written : written + n] = buffer[pos : pos + n, None]
            if click is not None:
                click.mix_into(out, written, pos, n)
            pos += n
            written += n
            if looping and pos >= stop:
                pos = self._wrap(loop, pos)
        self._position = pos
        self.playhead[0] = pos

    def _apply_seek(self, seek: SeekRequest | None) -> None:
        self._seek_done = seek
        if seek is None:
            return
        if self._active_swap is not None and self._position > self._switch_at:
            self._finish_swap(self._active_swap)  # a jump is a cut: no half-done crossfade
        self._position = seek.sample
        self.reached_end = False
        if self._active_swap is not None and self._switch_at < self._position:
            self._retarget(self._active_swap, self._position)

    def _mix_crossfade(
        self, out: np.ndarray, written: int, pos: int, stop: int, swap: SwapRequest
    ) -> int:
        """Mix old and new for the crossfade samples in this block; 0 when the fade is over."""
        k = pos - self._switch_at
        new = swap.buffer
        n = min(out.shape[0] - written, len(swap.fade_in) - k, stop - pos, len(new) - pos)
        if n <= 0:
            return 0
        old_part, new_part = swap.scratch[0, :n], swap.scratch[1, :n]
        np.multiply(self._buffer[pos : pos + n], swap.fade_out[k : k + n], out=old_part)
        np.multiply(new[pos : pos + n], swap.fade_in[k : k + n], out=new_part)
        np.add(old_part, new_part, out=old_part)
        out[written : written + n] = old_part[:, None]
        return n

    def _adopt_swap(self, pos: int) -> None:
        request = self._swap_request
        if request is None or request is self.last_applied_swap or request is self._active_swap:
            return
        self._active_swap = request
        self._switch_at = pos if request.immediate else request.switch_sample
        if self._switch_at < pos:
            self._retarget(request, pos)

    def _retarget(self, request: SwapRequest, pos: int) -> None:
        # The bar line is already behind the playhead (the UI thread was late, or a seek
        # jumped past it): land on the next bar line instead.
        lines = request.bar_lines
        index = bisect.bisect_left(lines, pos)
        self._switch_at = lines[index] if index < len(lines) else pos

    def _wrap(self, loop: LoopRange, pos: int) -> int:
        swap = self._active_swap
        if swap is not None:
            if self._switch_at < pos:
                self._finish_swap(swap)  # a wrap is a cut: finish a crossfade in progress
            elif not loop.start <= self._switch_at < loop.end:
                self._switch_at = loop.start  # the loop never reaches it: land on the wrap
        return loop.start

    def _finish_swap(self, swap: SwapRequest) -> None:
        self._buffer = swap.buffer
        self.last_applied_swap = swap
        self.last_swap_sample = self._switch_at
        self._active_swap = None
        self._switch_at = _UNREACHABLE
