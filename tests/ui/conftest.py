"""Fixtures for the studio window tests: a window on a temporary user folder, with a null
audio backend, and takes whose audio is real tensor blobs (so save, waveforms and playback
read them exactly as they read rendered takes)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from melodex_studio.project.commands import AddTake
from melodex_studio.project.models import Checkpoint, Take, TakeOperation, new_id, new_project
from melodex_studio.settings import Settings
from melodex_studio.worker.blobs import BlobBag

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
TAKE_RATE = 24000
FRAME_RATE = 23.4375


def tone(seconds: float, frequency: float, rate: int = TAKE_RATE, seed: int = 0) -> np.ndarray:
    """A decaying plucked tone per beat with a little noise: audio with a visible envelope."""
    rng = np.random.default_rng(seed)
    t = np.arange(round(seconds * rate)) / rate
    envelope = np.exp(-6.0 * (t % 0.5))
    signal = 0.5 * envelope * np.sin(2 * np.pi * frequency * t) + 0.03 * rng.standard_normal(t.size)
    return signal.astype(np.float32)


def make_rendered_take(
    project, section_id: str, *, seed: int = 1, minutes: int = 0,
    operation: TakeOperation = TakeOperation.GENERATE, parent_id: str | None = None,
    steps: int = 8, **fields: object,
) -> tuple[Take, dict[str, bytes]]:
    """A take of the whole section with real latent and audio blobs, and those blobs."""
    section = project.section(section_id)
    seconds = project.grid().bar_to_seconds(section.length_bars)
    frames = max(1, round(seconds * FRAME_RATE))
    rng = np.random.default_rng(seed)
    bag = BlobBag()
    checkpoints = tuple(
        Checkpoint(step=step, latent=bag.add_latent(
            rng.standard_normal((4, frames)).astype(np.float32)))
        for step in (2, 4, 6, 8)[: max(1, steps // 2)]
    )
    values: dict[str, object] = {
        "id": new_id(),
        "section_id": section_id,
        "region_start_bar": 0,
        "region_end_bar": section.length_bars,
        "operation": operation,
        "prompt": section.prompt,
        "seed": seed,
        "parent_id": parent_id,
        "noise": bag.add_noise(rng.standard_normal((4, frames)).astype(np.float32)),
        "checkpoints": checkpoints,
        "final_latent": bag.add_latent(rng.standard_normal((4, frames)).astype(np.float32)),
        "audio": bag.add_audio(tone(seconds, 110.0 * (1 + seed % 5), seed=seed)),
        "latent_frame_rate": FRAME_RATE,
        "audio_sample_rate": TAKE_RATE,
        "created": T0 + timedelta(minutes=minutes),
    }
    values["settings"] = section.settings.model_copy(update={"steps": steps})
    values.update(fields)
    return Take.model_validate(values), dict(bag)


@pytest.fixture
def studio(qtbot, user_dirs, monkeypatch):
    """A main window on a three-section song, nothing rendered, audio through a null device."""
    from melodex_studio.audio.backends import NullBackend
    from melodex_studio.store import RecoveryJournal
    from melodex_studio.ui.context import StudioContext
    from melodex_studio.ui.main_window import MainWindow

    project = new_project("Test song", 120, "A minor", "4/4", "Intro:4,Verse:8,Chorus:4", seed=3)
    context = StudioContext.create(project, Settings())
    window = MainWindow(context, journal=RecoveryJournal(user_dirs / "recovery"),
                        restore_layout=False)
    window.resize(1400, 860)
    window.show()
    qtbot.waitExposed(window)
    window.playback.set_backend(NullBackend(sample_rate=24000, speed=4.0))
    window.timeline.set_zoom(40.0, 0)
    window.timeline.scroll_home()
    yield window
    window._close_confirmed = True
    window.close()
    context.executor.shutdown(wait=True)


def add_rendered_take(window, section_id: str, **options: object) -> Take:
    """Render-like: blobs into the session, the take into the document through AddTake."""
    take, blobs = make_rendered_take(window.context.project, section_id, **options)
    window.files.add_blobs(blobs)
    assert window.context.undo.push(AddTake(section_id, take))
    return take


def settle(qtbot, window, ms: int = 50) -> None:
    """Let background file work report back and the event loop catch up."""
    assert window.context.executor.wait_idle(20.0)
    qtbot.wait(ms)
