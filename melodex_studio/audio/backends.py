"""Output backends: a sounddevice (PortAudio) stream, and a clock-paced NullBackend for tests.

A backend calls `render(out)` with a float32 (frames x channels) array whenever the output needs
the next block, from its own thread. It never raises out of `start` except `AudioDeviceError`
(with a message for the musician), and reports a device that stops mid-play through the
`on_finished(message)` function given to `start`; that function only stores the message (the
transport reads it when the UI polls), so nothing is called into the UI from the audio thread.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from melodex_studio.audio.errors import AudioDeviceError

RenderFn = Callable[[np.ndarray], None]
FinishedFn = Callable[[str | None], None]

DEFAULT_BLOCK_SECONDS = 0.02
DEFAULT_CHANNELS = 2
#: SCHED_FIFO priority for a paced thread: modest (JACK uses 10 + for clients, ~70 for itself).
REALTIME_PRIORITY = 10


@dataclass
class CallbackStats:
    """Counters written by the audio thread (plain int/float stores), read by anyone."""

    callbacks: int = 0
    underruns: int = 0
    missed_deadlines: int = 0
    #: Blocks finished later than half their deadline (near misses: the margin left).
    near_misses: int = 0
    worst_callback_seconds: float = 0.0
    worst_lateness_seconds: float = 0.0
    #: (perf_counter time, lateness s) of the first near misses, for a benchmark to line up
    #: with what else happened then; preallocated, so recording one allocates nothing.
    near_miss_log: np.ndarray = field(default_factory=lambda: np.zeros((256, 2)))

    def reset(self) -> None:
        self.callbacks = self.underruns = self.missed_deadlines = self.near_misses = 0
        self.worst_callback_seconds = self.worst_lateness_seconds = 0.0
        self.near_miss_log[:] = 0.0

    def near_miss_times(self) -> np.ndarray:
        """The logged near misses as rows of (time, lateness seconds)."""
        return self.near_miss_log[: min(self.near_misses, len(self.near_miss_log))].copy()


class OutputBackend(Protocol):
    sample_rate: int
    channels: int
    block_frames: int
    stats: CallbackStats

    @property
    def description(self) -> str: ...

    @property
    def running(self) -> bool: ...

    def start(self, render: RenderFn, on_finished: FinishedFn) -> None: ...

    def stop(self) -> None: ...

    def close(self) -> None: ...


# --- devices ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class OutputDevice:
    """A PortAudio output device as the device menu lists it."""

    index: int
    name: str
    host_api: str
    max_channels: int
    default_sample_rate: int
    is_default: bool


def _sounddevice() -> Any:
    """Import sounddevice lazily: without the PortAudio library the import itself fails."""
    try:
        import sounddevice
    except OSError as error:
        raise AudioDeviceError(
            "Audio output is unavailable: the PortAudio library is missing "
            "(install libportaudio2). The studio works without sound."
        ) from error
    return sounddevice


def list_output_devices() -> list[OutputDevice]:
    """Every device that can play sound; empty when there is no sound card."""
    sd = _sounddevice()
    try:
        devices = sd.query_devices()
        apis = sd.query_hostapis()
        default_out = sd.default.device[1]
    except sd.PortAudioError as error:
        raise AudioDeviceError(f"Cannot list audio devices: {error}") from error
    found = []
    for info in devices:
        if info["max_output_channels"] < 1:
            continue
        found.append(
            OutputDevice(
                index=int(info["index"]),
                name=str(info["name"]),
                host_api=str(apis[info["hostapi"]]["name"]),
                max_channels=int(info["max_output_channels"]),
                default_sample_rate=round(info["default_samplerate"]),
                is_default=int(info["index"]) == default_out,
            )
        )
    return found


def find_output_device(name: str | int | None) -> OutputDevice:
    """The device called `name` (exact, case-insensitive, then a unique substring), the device
    with index `name`, or the default output device for None."""
    devices = list_output_devices()
    if not devices:
        raise AudioDeviceError(
            "No audio output device found. Connect headphones or speakers, or check the "
            "system's sound settings; everything else in the studio keeps working."
        )
    if name is None:
        default = [device for device in devices if device.is_default]
        return default[0] if default else devices[0]
    if isinstance(name, int):
        for device in devices:
            if device.index == name:
                return device
        raise AudioDeviceError(f"There is no audio output device number {name}.")
    folded = name.strip().casefold()
    exact = [device for device in devices if device.name.casefold() == folded]
    partial = [device for device in devices if folded in device.name.casefold()]
    matches = exact or partial
    if len(matches) == 1 or exact:
        return matches[0]
    names = ", ".join(repr(device.name) for device in devices)
    if not matches:
        raise AudioDeviceError(f"No audio output device is called {name!r}. Devices: {names}.")
    raise AudioDeviceError(f"{name!r} matches several audio devices; pick one of: {names}.")


# --- sounddevice -------------------------------------------------------------------------------


class SoundDeviceBackend:
    """A PortAudio output stream through sounddevice.

    Construction never fails: without a usable device, `available` is False, `problem` says why
    and `start` raises AudioDeviceError with that message. The sample rate is the preferred one
    if the device accepts it, else the device's default rate (the transport then resamples the
    prepared buffer once, outside the callback).

    Per callback, sounddevice itself wraps the output memory in an ndarray and builds a status
    object; our trampoline adds one counter increment on an underflow, then calls `render`.
    """

    def __init__(
        self,
        device: str | int | None = None,
        sample_rate: int = 48000,
        channels: int = DEFAULT_CHANNELS,
        block_seconds: float = DEFAULT_BLOCK_SECONDS,
        latency: str | float = "low",
    ) -> None:
        self.stats = CallbackStats()
        self.channels = channels
        self.sample_rate = int(sample_rate)
        self.block_frames = max(16, round(block_seconds * self.sample_rate))
        self.latency = latency
        self.device: OutputDevice | None = None
        self.problem: str | None = None
        self._stream: Any = None
        self._stopping = False
        self._render: RenderFn | None = None
        self._on_finished: FinishedFn | None = None
        try:
            self.device = find_output_device(device)
            self.channels = max(1, min(channels, self.device.max_channels))
            self.sample_rate = self._supported_rate(self.device, int(sample_rate))
            self.block_frames = max(16, round(block_seconds * self.sample_rate))
        except AudioDeviceError as error:
            self.problem = str(error)

    def _supported_rate(self, device: OutputDevice, preferred: int) -> int:
        sd = _sounddevice()
        for rate in (preferred, device.default_sample_rate):
            try:
                sd.check_output_settings(
                    device=device.index, samplerate=rate, channels=self.channels, dtype="float32"
                )
                return rate
            except (sd.PortAudioError, ValueError):
                continue
        raise AudioDeviceError(
            f"The audio device {device.name!r} accepts neither {preferred} Hz nor its own "
            f"default {device.default_sample_rate} Hz."
        )

    @property
    def available(self) -> bool:
        return self.problem is None

    @property
    def description(self) -> str:
        if self.device is None:
            return "no audio device"
        return f"{self.device.name} ({self.device.host_api}, {self.sample_rate} Hz)"

    @property
    def running(self) -> bool:
        return self._stream is not None and bool(self._stream.active)

    @property
    def output_latency_seconds(self) -> float:
        return float(self._stream.latency) if self._stream is not None else 0.0

    def start(self, render: RenderFn, on_finished: FinishedFn) -> None:
        if self.problem is not None or self.device is None:
            raise AudioDeviceError(self.problem or "No audio output device.")
        sd = _sounddevice()
        self.close()
        self._render, self._on_finished, self._stopping = render, on_finished, False
        try:
            self._stream = sd.OutputStream(
                samplerate=self.sample_rate,
                blocksize=self.block_frames,
                device=self.device.index,
                channels=self.channels,
                dtype="float32",
                latency=self.latency,
                callback=self._callback,
                finished_callback=self._finished,
            )
            self._stream.start()
        except (sd.PortAudioError, ValueError) as error:
            self._stream = None
            raise AudioDeviceError(
                f"Cannot play through {self.device.name!r}: {error}. Is it still connected?"
            ) from error

    def _callback(self, outdata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
        if status.output_underflow:
            self.stats.underruns += 1
        self._render(outdata)  # type: ignore[misc]
        self.stats.callbacks += 1

    def _finished(self) -> None:
        # Runs on a PortAudio thread when the stream stops for any reason.
        if not self._stopping and self._on_finished is not None:
            name = self.device.name if self.device else "the audio device"
            self._on_finished(
                f"Playback stopped: {name!r} stopped responding (unplugged or taken by another "
                "program). Choose a device and press play again."
            )

    def stop(self) -> None:
        self._stopping = True
        stream, self._stream = self._stream, None
        if stream is None:
            return
        sd = _sounddevice()
        # A lost device cannot be stopped or closed cleanly; dropping the stream releases it.
        with contextlib.suppress(sd.PortAudioError):
            stream.stop()
        with contextlib.suppress(sd.PortAudioError):
            stream.close()

    def close(self) -> None:
        self.stop()


# --- the null backend ---------------------------------------------------------------------------


def raise_thread_priority() -> str:
    """Ask the OS to schedule the calling thread like an audio thread; say what it granted.

    Audio stacks do the same for their callback threads (PortAudio's ALSA and JACK threads ask
    for SCHED_FIFO; desktops grant it through rtkit or an rtprio limit). Without permission the
    thread stays at normal priority and everything still works, with more risk of underruns.
    """
    if hasattr(os, "sched_setscheduler"):
        with contextlib.suppress(OSError):
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(REALTIME_PRIORITY))
            return "realtime (SCHED_FIFO)"
    if hasattr(os, "setpriority"):
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), -10)
            return "raised (nice -10)"
    return "normal"


class NullBackend:
    """Drives `render` like a sound card would, with no sound card.

    Timing model: block i is requested at t0 + i * T / speed (T = block duration) and must be
    finished `deadline_blocks` block durations later (one block: the device plays block i - 1
    while block i is computed, i.e. double buffering). A block that finishes late is a missed
    deadline (an underrun on a real device); the clock then re-synchronises, as a device does
    after an xrun. `speed` > 1 runs an accelerated clock: deadlines shrink by the same factor,
    so an accelerated run is stricter than real time, never more lenient.

    `paced=False` runs blocks back to back on the thread (as fast as possible); `manual=True`
    starts no thread at all and `pump(n)` renders n blocks on the caller's thread (for tests
    that need exact sample streams). `capture_frames` keeps the first frames rendered in a
    preallocated array (`captured`). `fail_after_blocks` simulates a device that disappears.
    """

    def __init__(
        self,
        sample_rate: int = 48000,
        channels: int = DEFAULT_CHANNELS,
        block_seconds: float = DEFAULT_BLOCK_SECONDS,
        block_frames: int | None = None,
        speed: float = 1.0,
        deadline_blocks: float = 1.0,
        paced: bool = True,
        manual: bool = False,
        capture_frames: int = 0,
        fail_after_blocks: int | None = None,
        available: bool = True,
        realtime_priority: bool = True,
    ) -> None:
        if speed <= 0.0:
            raise ValueError(f"clock speed must be positive, got {speed}")
        self.sample_rate = int(sample_rate)
        self.channels = channels
        self.block_frames = block_frames or max(1, round(block_seconds * self.sample_rate))
        self.speed = speed
        self.deadline_blocks = deadline_blocks
        self.paced = paced
        self.manual = manual
        self.fail_after_blocks = fail_after_blocks
        self.realtime_priority = realtime_priority
        #: What the pacing thread got: "realtime (SCHED_FIFO)", "raised (nice -10)" or "normal".
        self.thread_priority = "not started"
        self.problem = None if available else "No audio output device found (null backend)."
        self.stats = CallbackStats()
        self.captured = np.zeros((capture_frames, channels), dtype=np.float32)
        self.captured_frames = 0
        self._out = np.zeros((self.block_frames, channels), dtype=np.float32)
        self._render: RenderFn | None = None
        self._on_finished: FinishedFn | None = None
        self._thread: threading.Thread | None = None
        self._stop_event = threading.Event()
        self._started_manual = False
        self._blocks = 0

    @property
    def description(self) -> str:
        return f"null output ({self.sample_rate} Hz, x{self.speed:g} clock)"

    @property
    def running(self) -> bool:
        if self.manual:
            return self._started_manual
        return self._thread is not None and self._thread.is_alive()

    @property
    def block_seconds(self) -> float:
        return self.block_frames / self.sample_rate

    def start(self, render: RenderFn, on_finished: FinishedFn) -> None:
        if self.problem is not None:
            raise AudioDeviceError(self.problem)
        self.stop()
        self._render, self._on_finished = render, on_finished
        self._stop_event.clear()
        if self.manual:
            self._started_manual = True
            return
        self._thread = threading.Thread(target=self._run, name="melodex-null-audio", daemon=True)
        self._thread.start()

    def pump(self, n_blocks: int = 1) -> None:
        """Manual mode: render `n_blocks` blocks now, on this thread."""
        if not (self.manual and self._started_manual):
            raise RuntimeError("pump() needs a started NullBackend(manual=True)")
        for _ in range(n_blocks):
            if not self._one_block():
                self._started_manual = False
                break

    def _one_block(self) -> bool:
        if self.fail_after_blocks is not None and self._blocks >= self.fail_after_blocks:
            if self._on_finished is not None:
                self._on_finished("Playback stopped: the audio device disappeared (simulated).")
            return False
        self._render(self._out)  # type: ignore[misc]
        self._blocks += 1
        self.stats.callbacks += 1
        if self.captured_frames < len(self.captured):
            n = min(self.block_frames, len(self.captured) - self.captured_frames)
            self.captured[self.captured_frames : self.captured_frames + n] = self._out[:n]
            self.captured_frames += n
        return True

    def _run(self) -> None:
        self.thread_priority = raise_thread_priority() if self.realtime_priority else "normal"
        period = self.block_seconds / self.speed
        budget = period * self.deadline_blocks
        clock = time.perf_counter
        stats = self.stats
        next_start = clock()
        while not self._stop_event.is_set():
            if self.paced:
                wait = next_start - clock()
                if wait > 0.0 and self._stop_event.wait(wait):
                    break
            began = clock()
            if not self._one_block():
                break
            finished = clock()
            stats.worst_callback_seconds = max(stats.worst_callback_seconds, finished - began)
            if self.paced:
                lateness = finished - next_start
                stats.worst_lateness_seconds = max(stats.worst_lateness_seconds, lateness)
                if lateness > 0.5 * budget:
                    if stats.near_misses < len(stats.near_miss_log):
                        stats.near_miss_log[stats.near_misses, 0] = finished
                        stats.near_miss_log[stats.near_misses, 1] = lateness
                    stats.near_misses += 1
                if lateness > budget:
                    stats.missed_deadlines += 1
                    stats.underruns += 1
                    next_start = finished  # re-synchronise like a device after an xrun
                next_start += period

    def stop(self) -> None:
        self._started_manual = False
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stop_event.set()
            thread.join()

    def close(self) -> None:
        self.stop()
