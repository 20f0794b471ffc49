"""What a render shows while it runs, kept off the main thread's critical path: progress
reaches the job queue and the timeline once per frame, a tick repaints a strip rather than a
block, the job row never repaints synchronously, only the newest preview is reduced, and the
peaks behind every waveform stay exact."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PySide6.QtCore import QEvent, QObject, QRectF

from melodex_studio.ui.frame_coalescer import FrameCoalescer
from melodex_studio.ui.timeline.waveform import compute_peaks
from melodex_studio.worker.blobs import encode_audio
from melodex_studio.worker.protocol import Envelope, Progress
from tests.ui.conftest import settle

pytestmark = pytest.mark.qt


def test_the_coalescer_applies_the_newest_update_per_key_once_per_frame(qtbot):
    coalescer = FrameCoalescer(interval_ms=5)
    applied = []
    for step in range(100):
        coalescer.post("a", lambda step=step: applied.append(("a", step)))
        coalescer.post("b", lambda step=step: applied.append(("b", step)))
    coalescer.post("gone", lambda: applied.append(("gone", 0)))
    coalescer.discard("gone")
    assert applied == [] and coalescer.pending == 2  # nothing runs inside the burst
    qtbot.waitUntil(lambda: coalescer.pending == 0, timeout=2000)
    assert applied == [("a", 99), ("b", 99)]
    assert coalescer.flushes == 1


def test_a_failing_update_does_not_drop_the_others(qtbot):
    coalescer = FrameCoalescer(interval_ms=1)
    applied = []

    def fail() -> None:
        raise RuntimeError("boom")

    coalescer.post("bad", fail)
    coalescer.post("good", lambda: applied.append(True))
    coalescer.flush()
    assert applied == [True]


class PaintCounter(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.paints = 0

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint:
            self.paints += 1
        return False


def burst(window, job_id: str, total: int) -> None:
    """Progress reports as the worker client delivers them, all within one frame."""
    for step in range(1, total + 1):
        window.generation._handle(Envelope(Progress(job_id=job_id, step=step, total=total)))


def test_a_burst_of_steps_reaches_the_queue_and_the_timeline_once(qtbot, studio):
    intro = studio.context.project.section_by_name("Intro")
    item = studio.scene.items_by_id[intro.id]
    job_id = studio.generation._start(intro.id, "Generate Intro").job_id
    settle(qtbot, studio)
    panel_calls, item_calls = [], []
    set_progress, set_render_progress = studio.jobs.set_progress, item.set_render_progress
    studio.jobs.set_progress = lambda *a: (panel_calls.append(a), set_progress(*a))
    item.set_render_progress = lambda *a: (item_calls.append(a), set_render_progress(*a))

    burst(studio, job_id, 50)
    assert panel_calls == [] and item_calls == []  # the burst itself touches no widget
    qtbot.waitUntil(lambda: studio.generation.frames.pending == 0, timeout=2000)
    assert len(panel_calls) == 1 and len(item_calls) == 1  # one frame, the newest step
    entry = studio.jobs.jobs[job_id]
    assert entry.progress.value() == 100 and entry.progress.text() == "Step 50/50"
    assert item.render_progress == pytest.approx(1.0)
    assert item.render_text == "Generate 50/50"


def test_steps_of_a_finished_job_are_dropped(qtbot, studio):
    intro = studio.context.project.section_by_name("Intro")
    job = studio.generation._start(intro.id, "Generate Intro")
    burst(studio, job.job_id, 3)
    studio.generation._failed(job, "stopped", cancelled=True)
    settle(qtbot, studio)
    assert studio.scene.items_by_id[intro.id].render_progress is None
    assert studio.jobs.jobs[job.job_id].state == "failed"


def test_a_tick_repaints_the_progress_strip_and_not_the_block(qtbot, studio):
    verse = studio.context.project.section_by_name("Verse")
    item = studio.scene.items_by_id[verse.id]
    updates = []
    update = item.update
    item.update = lambda *a: (updates.append(a), update(*a))
    item.set_render_progress(0.0, "Generate 0/24")
    assert updates == [()]  # starting a render repaints the block once (its hint goes)
    updates.clear()
    for step in range(1, 5):
        item.set_render_progress(step / 24, f"Generate {step}/24")
    assert len(updates) == 4 and all(len(a) == 1 for a in updates)
    block = item.boundingRect()
    for (strip,) in updates:
        assert isinstance(strip, QRectF)
        assert block.contains(strip) and strip.height() <= 32 < block.height() / 3
    updates.clear()
    item.set_render_progress(4 / 24, "Generate 4/24")  # nothing changed: nothing to paint
    assert updates == []
    item.set_render_progress(None)
    assert updates == [()]


def test_the_job_row_never_repaints_inside_the_progress_handler(qtbot, studio):
    intro = studio.context.project.section_by_name("Intro")
    job_id = studio.generation._start(intro.id, "Generate Intro").job_id
    studio.jobs_dock.show()
    settle(qtbot, studio)
    bar = studio.jobs.jobs[job_id].progress
    qtbot.waitUntil(bar.isVisible, timeout=2000)
    counter = PaintCounter()
    bar.installEventFilter(counter)
    studio.jobs.set_progress(job_id, 12, 24, "Step 12/24")
    assert counter.paints == 0  # QProgressBar.setValue alone would have painted right here
    assert bar.value() == 50 and bar.updatesEnabled()
    qtbot.waitUntil(lambda: counter.paints > 0, timeout=2000)  # with the next frame


def test_only_the_newest_waiting_preview_is_reduced_and_drawn(qtbot, studio):
    intro = studio.context.project.section_by_name("Intro")
    item = studio.scene.items_by_id[intro.id]
    generation = studio.generation
    job = generation._start(intro.id, "Generate Intro")
    settle(qtbot, studio)
    drawn = []
    set_preview = item.set_preview
    item.set_preview = lambda peaks, rate=24000: (drawn.append(peaks), set_preview(peaks, rate))
    rate, peaks_per_second = 24000, 400
    for seconds in (1, 2, 3, 4, 5):  # all arrive while the first is still being reduced
        audio = np.full(seconds * rate, 0.25, np.float32)
        generation._show_preview(job, encode_audio(audio), rate)
    settle(qtbot, studio)
    assert [len(p) for p in drawn] == [1 * peaks_per_second, 5 * peaks_per_second]
    assert item.preview_peaks is drawn[-1]
    assert not job.preview_busy and job.preview_next is None


def reference_peaks(audio: np.ndarray, bucket: int) -> np.ndarray:
    rows = [(min(audio[i:i + bucket]), max(audio[i:i + bucket]))
            for i in range(0, len(audio), bucket)]
    return np.clip(np.asarray(rows, np.float32).reshape(-1, 2), -1.0, 1.0)


@settings(max_examples=40, deadline=None)
@given(samples=st.integers(0, 2000), bucket=st.integers(1, 97), seed=st.integers(0, 2**16))
def test_peaks_are_the_min_and_max_of_each_bucket(samples, bucket, seed):
    audio = (1.5 * np.random.default_rng(seed).standard_normal(samples)).astype(np.float32)
    peaks = compute_peaks(audio, sample_rate=bucket * 100, peaks_per_second=100)
    assert peaks.dtype == np.float32 and peaks.shape == (-(-samples // bucket), 2)
    np.testing.assert_array_equal(peaks, reference_peaks(audio, bucket))


def test_a_narrow_block_keeps_the_moving_part_of_its_progress_label(qtbot) -> None:
    from PySide6.QtGui import QFont, QFontMetricsF

    from melodex_studio.ui.timeline.render_overlay import fitted_label

    font = QFont()
    font.setPointSizeF(8)
    metrics = QFontMetricsF(font)
    wide = metrics.horizontalAdvance("Regenerate 13/24") + 2
    assert fitted_label("Regenerate 13/24", metrics, wide) == "Regenerate 13/24"
    count = metrics.horizontalAdvance("13/24")
    assert fitted_label("Regenerate 13/24", metrics, count + 2) == "13/24"
    squeezed = fitted_label("Regenerate 13/24", metrics, count / 2)
    assert squeezed != "13/24" and metrics.horizontalAdvance(squeezed) <= count / 2
