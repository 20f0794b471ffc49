"""Generation through the window with a tiny random-weight model running in-process:
generate, plan, repaint the selected bars, vary from a checkpoint, retake, undo."""

from __future__ import annotations

import pytest

from melodex_studio.project.commands import EditSectionSettings
from melodex_studio.project.models import TakeOperation
from melodex_studio.ui.selection import BarRange
from tests.ui.conftest import settle

pytestmark = pytest.mark.qt

pytest.importorskip("torch")


class EventRouter:
    """One worker for the module; its events go to whichever window is under test."""

    def __init__(self) -> None:
        self.target = None

    def __call__(self, envelope) -> None:
        if self.target is not None:
            self.target(envelope)


@pytest.fixture(scope="module")
def tiny_worker():
    from melodex_studio.worker.inprocess import InProcessClient
    from melodex_studio.worker.protocol import WorkerConfig

    router = EventRouter()
    client = InProcessClient(WorkerConfig(model="tiny-random", device="cpu", threads=1),
                             on_event=router)
    yield client, router
    client.close()


@pytest.fixture
def generating(studio, tiny_worker, qtbot):
    client, router = tiny_worker
    router.target = studio.generation.on_client_event
    studio.generation.attach_client(client)
    client.request_status()
    qtbot.waitUntil(lambda: studio.generation.available, timeout=10000)
    for section in studio.context.project.sections:  # few steps: the tests stay fast
        studio.context.undo.push(EditSectionSettings(section.id, steps=4))
    studio.context.document.history.clear()
    yield studio
    router.target = None
    studio.generation.client = None


def wait_jobs_done(qtbot, window, timeout: int = 60000) -> None:
    qtbot.waitUntil(lambda: not window.generation.running, timeout=timeout)
    settle(qtbot, window)


def test_generate_from_the_context_menu_adds_a_take_with_progress(qtbot, generating):
    window = generating
    intro = window.context.project.section_by_name("Intro")
    window.context.selection.select_one(intro.id)
    assert window.studio_actions.generate.isEnabled()
    item = window.scene.items_by_id[intro.id]
    previews = []
    original = item.set_preview
    item.set_preview = lambda peaks, rate=24000: (previews.append(peaks), original(peaks, rate))
    window.generation.preview_every = 1
    seeded = []
    put = window.waveforms.put
    window.waveforms.put = lambda sha, peaks: (seeded.append(sha), put(sha, peaks))
    heard = []
    window.generation.sig_render_preview.connect(lambda sid, preview: heard.append((sid, preview)))
    messages: list[str] = []
    window.generation.sig_message.connect(messages.append)
    window.studio_actions.generate.trigger()
    assert window.jobs.active_count() == 1
    assert window.status.worker_label.text() == "Worker: busy · cpu"  # from the click on
    wait_jobs_done(qtbot, window)
    assert any(p is not None and len(p) > 0 for p in previews)  # the rough preview was drawn
    # ... and handed to playback, placed at the section's first sample; cleared at the end.
    audible = [preview for sid, preview in heard if preview is not None]
    assert audible and all(sid == intro.id for sid, _ in heard)
    grid = window.context.project.grid().with_sample_rate(audible[0].sample_rate)
    assert (audible[0].start_bar, audible[0].length_bars) == (intro.start_bar, intro.length_bars)
    assert len(audible[0].audio) == grid.bar_to_sample(intro.end_bar) - grid.bar_to_sample(
        intro.start_bar)
    assert heard[-1] == (intro.id, None)
    assert item.preview_peaks is None  # and cleared when the take arrived
    section = window.context.project.section(intro.id)
    assert len(section.takes) == 1 and section.active_take.operation is TakeOperation.GENERATE
    assert seeded == [section.active_take.audio]  # its waveform came with the take
    # The worker listened for the key: the random model's noise is never heard in it, so the
    # section was rendered four times and the status line says what it was heard in.
    assert messages[-1].startswith("Generate Intro: 1 take(s) added (heard in ")
    assert messages[-1].endswith(f"not {window.context.project.key}, after 4 renders)")
    entry = next(iter(window.jobs.jobs.values()))
    assert entry.state == "done" and entry.progress.value() == 100
    assert item.render_progress is None
    assert window.status.worker_label.text() == "Worker: ready · cpu"  # still says where
    qtbot.waitUntil(lambda: item.peaks is not None, timeout=5000)
    assert window.undo_action.text() == "Undo Generate Intro"
    window.undo_action.trigger()  # undoing a render never re-runs inference
    assert not window.context.project.section(intro.id).takes


def test_plan_then_repaint_selected_bars_then_vary(qtbot, generating):
    window = generating
    verse = window.context.project.section_by_name("Verse")
    window.context.selection.select_one(verse.id)
    window.studio_actions.plan.trigger()
    wait_jobs_done(qtbot, window)
    plan = window.context.project.section(verse.id).plan
    assert plan is not None and plan.n_bars == verse.length_bars
    assert window.plan_editor.model.columnCount() == verse.length_bars
    window.generation.generate(verse.id)
    wait_jobs_done(qtbot, window)
    window.context.selection.set_bar_range(BarRange(verse.id, 2, 4))
    assert window.studio_actions.repaint.isEnabled()
    window.studio_actions.repaint.trigger()
    wait_jobs_done(qtbot, window)
    section = window.context.project.section(verse.id)
    assert [t.operation for t in section.takes] == [TakeOperation.GENERATE, TakeOperation.REPAINT]
    assert section.active_take.repaint_ranges == ((2, 4),)
    # Vary the first take from its checkpoint at step 2 through the takes panel.
    takes = window.takes_panel
    takes.tree.setCurrentItem(takes.tree.topLevelItem(0))
    assert takes.vary_button.isEnabled()
    takes.checkpoint_slider.setValue(0)
    takes.variation_slider.setValue(60)
    assert takes.variation_label.text() == "60%"
    takes.vary_button.click()
    wait_jobs_done(qtbot, window)
    section = window.context.project.section(verse.id)
    varied = section.active_take
    source = section.takes[0]
    step = source.checkpoints[0].step
    assert varied.operation is TakeOperation.VARY and varied.parent_id == source.id
    assert (varied.source_checkpoint_step, varied.variation) == (step, pytest.approx(0.6))
    titles = [entry.title for entry in window.jobs.jobs.values()]
    assert f"Vary Verse from step {step}" in titles
    # Same prompt and plan, yet another take: 60 % of what follows the step was drawn anew.
    assert varied.seed != source.seed and varied.final_latent != source.final_latent
    assert takes.tree.topLevelItem(2).text(3) == f"Take 1 @ step {step} · 60% new"
    # A variation renders what the section asks for now: its prompt and guidance, with the
    # take's steps (the step counts along its trajectory).
    from melodex_studio.project.commands import EditPrompt, EditSectionSettings

    window.context.undo.push(EditPrompt(verse.id, "brass stabs"))
    window.context.undo.push(EditSectionSettings(verse.id, guidance=6.0, steps=20))
    window.generation.vary(verse.id, source.id, step)
    wait_jobs_done(qtbot, window)
    newest = window.context.project.section(verse.id).active_take
    assert (newest.prompt, newest.settings.guidance) == ("brass stabs", 6.0)
    assert newest.settings.steps == source.settings.steps != 20


def test_clicks_before_the_first_render_lands_get_their_own_seeds(qtbot, generating):
    """Each request is built from the project as it was at its click, which does not know the
    renders still running: their seeds are kept from later clicks, even with a locked seed for
    retakes and variations."""
    from melodex_studio.project.commands import EditSectionSettings

    window = generating
    chorus = window.context.project.section_by_name("Chorus")
    window.generation.generate(chorus.id)
    wait_jobs_done(qtbot, window)
    source = window.context.project.section(chorus.id).active_take
    window.generation.regenerate(chorus.id)
    window.generation.regenerate(chorus.id)
    window.generation.vary(chorus.id, source.id)
    window.generation.vary(chorus.id, source.id)
    assert len(window.generation.running) == 4
    wait_jobs_done(qtbot, window)
    takes = window.context.project.section(chorus.id).takes
    assert len(takes) == 5 and len({t.seed for t in takes}) == 5
    assert len({t.final_latent for t in takes}) == 5
    window.generation.regenerate(chorus.id)
    window.generation.repaint(chorus.id, ((0, 1),))
    wait_jobs_done(qtbot, window)
    takes = window.context.project.section(chorus.id).takes
    assert len(takes) == 7 and len({t.seed for t in takes}) == 7
    window.context.undo.push(EditSectionSettings(chorus.id, seed_locked=True))
    window.generation.retake(chorus.id, 2)
    assert [entry.title for entry in window.jobs.jobs.values()][-1] == "Retake Chorus ×2"
    window.generation.vary(chorus.id, source.id)
    wait_jobs_done(qtbot, window)
    takes = window.context.project.section(chorus.id).takes
    assert len(takes) == 10 and len({t.seed for t in takes}) == 10


def test_retake_adds_four_takes_in_one_undo_step(qtbot, generating):
    window = generating
    chorus = window.context.project.section_by_name("Chorus")
    window.generation.retake(chorus.id)
    wait_jobs_done(qtbot, window)
    assert len(window.context.project.section(chorus.id).takes) == 4
    window.context.undo.undo()
    assert not window.context.project.section(chorus.id).takes


def test_a_failed_job_is_reported_and_changes_nothing(qtbot, generating):
    window = generating
    intro = window.context.project.section_by_name("Intro")
    before = window.context.project
    messages = []
    window.generation.sig_message.connect(messages.append)
    window.generation.repaint(intro.id, ((0, 2),))  # nothing rendered yet: cannot repaint
    wait_jobs_done(qtbot, window)
    assert window.context.project is before
    entry = next(iter(window.jobs.jobs.values()))
    assert entry.state == "failed"
    assert any("generate it first" in m for m in messages)


def test_importing_a_recording_adds_a_take_that_plays_it_and_can_be_varied(
    qtbot, generating, tmp_path, monkeypatch
) -> None:
    import numpy as np
    import soundfile
    from PySide6.QtWidgets import QFileDialog

    from melodex_studio.project.operations import read_audio

    window = generating
    verse = window.context.project.section_by_name("Verse")
    window.context.selection.select_one(verse.id)
    rate = window.generation.geometry.sample_rate
    stereo = np.random.default_rng(3).uniform(-0.3, 0.3, (rate // 2, 2)).astype(np.float32)
    path = tmp_path / "guitar take.wav"
    soundfile.write(path, stereo, rate, subtype="FLOAT")
    monkeypatch.setattr(QFileDialog, "getOpenFileName", lambda *a, **k: (str(path), ""))
    from melodex_studio.ui.dialogs.import_recording import ImportRecordingDialog

    asked = []  # the options dialog, accepted as it opens: as recorded
    monkeypatch.setattr(ImportRecordingDialog, "exec", lambda self: asked.append(
        self.summary.text()) or ImportRecordingDialog.DialogCode.Accepted)
    messages: list[str] = []
    window.generation.sig_message.connect(messages.append)
    assert window.studio_actions.import_audio.isEnabled()
    window.studio_actions.import_audio.trigger()
    wait_jobs_done(qtbot, window)
    verse = window.context.project.section_by_name("Verse")
    take = verse.active_take
    assert take is not None and take.operation is TakeOperation.IMPORT
    assert take.label == "guitar take.wav" and asked == ["It comes in as recorded."]
    heard = read_audio(window.files.read_blob, take.audio)
    np.testing.assert_array_equal(heard[: len(stereo)], stereo.mean(axis=1, dtype=np.float32))
    assert window.undo_action.text() == "Undo Import into Verse"
    assert any("Import guitar take.wav into Verse" in m for m in messages)
    # The takes panel offers every step of an imported take to vary from.
    panel = window.takes_panel
    item = panel.tree.topLevelItem(len(verse.takes) - 1)
    assert item.text(3) == "your recording"  # the Origin column
    panel.tree.setCurrentItem(item)
    assert panel.selected_take() == take and panel.vary_box.isVisibleTo(window)
    panel.checkpoint_slider.setValue(3)
    assert panel.checkpoint_step() == 3 and panel.vary_button.isEnabled()
    assert window.studio_actions.vary.isEnabled()
    window.studio_actions.vary.trigger()
    wait_jobs_done(qtbot, window)
    varied = window.context.project.section_by_name("Verse").active_take
    assert varied.operation is TakeOperation.VARY and varied.parent_id == take.id


def test_a_recording_at_another_tempo_and_key_is_stretched_and_transposed_as_it_comes_in(
        qtbot, generating, tmp_path) -> None:
    """A riff played at 96 BPM in C major comes into a 120 BPM section in A minor: its notes
    land on the section's beats, at their pitch (C major's notes are A minor's); told it is in
    D major, it moves down two semitones."""
    import numpy as np
    import soundfile

    from melodex_studio.music.key import Key
    from melodex_studio.project.operations import read_audio
    from melodex_studio.ui.dialogs.import_recording import ImportRecordingDialog

    window = generating
    project = window.context.project
    verse = project.section_by_name("Verse")
    assert (project.section_bpm(verse), str(project.section_key(verse))) == (120.0, "A minor")
    dialog = ImportRecordingDialog("riff.wav", "Verse", 120.0, Key.parse("A minor"))
    qtbot.addWidget(dialog)
    dialog.tempo_spin.setValue(96.0)
    dialog.key_combo.setCurrentIndex(dialog.key_combo.findText("C major"))
    assert dialog.transpose_spin.value() == 0  # the relative key: nothing to move
    dialog.key_combo.setCurrentIndex(dialog.key_combo.findText("D major"))
    assert dialog.transpose_spin.value() == -2  # D major onto C major, A minor's relative
    options = dialog.options()
    assert options.tempo_factor == 1.25 and dialog.summary.text() == (
        "It comes in stretched from 96 to 120 BPM and 2 semitones down.")
    dialog.tempo_spin.setValue(25.0)
    assert not dialog.import_button.isEnabled() and "too far" in dialog.summary.text()
    # Back to "As recorded": nothing is moved; under 20 BPM or the section's own tempo is no
    # stretch either.
    dialog.key_combo.setCurrentIndex(0)
    assert dialog.transpose_spin.value() == 0
    for bpm in (19.5, 120.0):
        dialog.tempo_spin.setValue(bpm)
        assert dialog.options().tempo_factor == 1.0 and dialog.import_button.isEnabled()
        assert dialog.summary.text() == "It comes in as recorded."
    # A 440 Hz note on every beat at 96 BPM (0.625 s apart).
    rate = window.generation.geometry.sample_rate
    beat = int(rate * 60 / 96)
    t = np.arange(beat) / rate
    note = (0.5 * np.sin(2 * np.pi * 440 * t) * np.exp(-t * 12)).astype(np.float32)
    path = tmp_path / "riff.wav"
    soundfile.write(path, np.tile(note, 8), rate, subtype="FLOAT")
    window.generation.import_audio(verse.id, path, options=options)
    wait_jobs_done(qtbot, window)
    take = window.context.project.section_by_name("Verse").active_take
    assert take.label == "riff.wav (96→120 BPM, -2 st)"
    heard = read_audio(window.files.read_blob, take.audio)
    ms = rate // 1000
    for beat_start in (i * rate // 2 for i in range(1, 7)):  # 120 BPM: a beat every 0.5 s
        attack = np.abs(heard[beat_start - 5 * ms : beat_start + 25 * ms]).max()
        before = np.abs(heard[beat_start - 80 * ms : beat_start - 30 * ms]).max()
        assert attack > 0.2 > 0.1 > before, beat_start / rate  # a note starts on the beat
    spectrum = np.abs(np.fft.rfft(heard[: rate * 2] * np.hanning(rate * 2)))
    assert abs(np.argmax(spectrum) / 2 - 440 * 2 ** (-2 / 12)) < 4  # 392 Hz, G


def test_a_file_that_is_not_audio_fails_with_a_message(qtbot, generating, tmp_path) -> None:
    window = generating
    verse = window.context.project.section_by_name("Verse")
    path = tmp_path / "notes.wav"
    path.write_text("not audio at all")
    messages: list[str] = []
    window.generation.sig_message.connect(messages.append)
    window.generation.import_audio(verse.id, path)
    wait_jobs_done(qtbot, window)
    assert window.context.project.section_by_name("Verse").takes == verse.takes
    assert any("cannot import notes.wav: it is not an audio file" in m for m in messages)


def test_dropping_a_recording_on_a_section_imports_it(qtbot, generating, tmp_path) -> None:
    import numpy as np
    import soundfile
    from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
    from PySide6.QtWidgets import QApplication

    window = generating
    rate = window.generation.geometry.sample_rate
    path = tmp_path / "drums.wav"
    soundfile.write(path, np.random.default_rng(4).uniform(-0.2, 0.2, rate // 4), rate)
    chorus = window.context.project.section_by_name("Chorus")
    view = window.timeline
    geometry = view.geometry_
    x = geometry.bar_to_x(chorus.start_bar + 1)
    y = geometry.lane_top + geometry.lane_height / 2
    point = QPointF(view.mapFromScene(x, y))
    data = QMimeData()
    data.setUrls([QUrl.fromLocalFile(str(path))])
    action, buttons, mods = Qt.DropAction.CopyAction, Qt.MouseButton.LeftButton, \
        Qt.KeyboardModifier.NoModifier
    statuses: list[str] = []
    view.sig_status.connect(statuses.append)
    enter = QDragEnterEvent(point.toPoint(), action, data, buttons, mods)
    QApplication.sendEvent(view.viewport(), enter)
    assert enter.isAccepted()
    move = QDragMoveEvent(point.toPoint(), action, data, buttons, mods)
    QApplication.sendEvent(view.viewport(), move)
    assert move.isAccepted()
    empty = QDragMoveEvent(view.mapFromScene(geometry.bar_to_x(200), y), action, data, buttons,
                           mods)
    QApplication.sendEvent(view.viewport(), empty)
    assert not empty.isAccepted()  # no section under it: nowhere to import
    QApplication.sendEvent(view.viewport(), QDropEvent(point, action, data, buttons, mods))
    wait_jobs_done(qtbot, window)
    take = window.context.project.section_by_name("Chorus").active_take
    assert take is not None and take.operation is TakeOperation.IMPORT
    assert take.label == "drums.wav"
    # Dropped on the Chorus's second bar: the recording starts there.
    from melodex_studio.project.operations import bars_span, read_audio

    lead = bars_span(window.context.project, chorus, 0, 1, window.generation.geometry).n_samples
    heard = read_audio(window.files.read_blob, take.audio)
    assert not heard[:lead].any() and heard[lead : lead + 100].any()
    assert statuses and statuses[-1] == "Drop to import the recording into Chorus, from its bar 2"
    project_file = QMimeData()
    project_file.setUrls([QUrl.fromLocalFile(str(tmp_path / "song.mlx"))])
    passed_on = QDragEnterEvent(point.toPoint(), action, project_file, buttons, mods)
    assert view._recording_file(passed_on) is None
    QApplication.sendEvent(view.viewport(), passed_on)
    assert passed_on.isAccepted()  # the view lets it go on to the window, which opens projects


def test_a_model_that_writes_no_plans_greys_out_planning_and_import(qtbot, generating):
    from melodex_studio.worker.protocol import Envelope, WorkerState, WorkerStatus

    studio = generating
    studio.context.selection.select_one(studio.context.project.sections[0].id)
    actions = studio.studio_actions
    assert actions.plan.isEnabled() and actions.import_audio.isEnabled()
    assert studio.plan_editor.replan_button.isEnabled()
    model = studio.generation.client.status.model
    status = WorkerStatus(state=WorkerState.IDLE, device="cuda:0", precision="bfloat16",
                          model=model.model_copy(update={"model_id": "stable-audio-open",
                                                         "plans": False, "imports": False}))
    studio.generation._handle(Envelope(status))
    assert studio.status.worker_label.text() == "Worker: ready · cuda:0 · bf16"
    assert not actions.plan.isEnabled() and not actions.import_audio.isEnabled()
    assert actions.generate.isEnabled() and actions.regenerate.isEnabled()
    assert not studio.plan_editor.replan_button.isEnabled()
    assert "writes and reads no plans" in studio.plan_editor.replan_button.toolTip()
    assert not studio.plan_editor.model_note.isHidden()
    assert "stable-audio-open renders from the prompt" in studio.plan_editor.model_note.text()
    studio.generation._handle(Envelope(WorkerStatus(state=WorkerState.IDLE, model=model)))
    assert actions.plan.isEnabled() and studio.plan_editor.replan_button.isEnabled()
    assert studio.plan_editor.model_note.isHidden()


def test_a_left_to_right_model_repaints_only_bars_that_run_to_the_sections_end(
        qtbot, generating):
    from melodex_studio.ui.selection import BarRange
    from melodex_studio.worker.protocol import Envelope, WorkerState, WorkerStatus

    studio = generating
    section = studio.context.project.sections[0]
    studio.generation.generate(section.id)
    wait_jobs_done(qtbot, studio)
    section = studio.context.project.sections[0]
    selection, repaint = studio.context.selection, studio.studio_actions.repaint
    selection.select_one(section.id)
    first_bar = BarRange(section.id, 0, 1)
    last_bars = BarRange(section.id, 1, section.length_bars)
    selection.set_bar_range(first_bar)
    assert repaint.isEnabled()
    model = studio.generation.client.status.model
    studio.generation._handle(Envelope(WorkerStatus(state=WorkerState.IDLE, model=model.model_copy(
        update={"model_id": "musicgen", "plans": False, "imports": True,
                "repaints_inside": False, "diffusion": False}))))
    assert not repaint.isEnabled()
    assert "musicgen writes music left to right" in repaint.toolTip()
    settings_box = studio.inspector.generation  # no sampler, no noise levels to guide over
    assert not settings_box.sampler_combo.isEnabled()
    assert not settings_box.interval_start.isEnabled()
    assert "Not used by musicgen" in settings_box.sampler_combo.toolTip()
    assert "Checkpoints along the take" in settings_box.steps_spin.toolTip()
    selection.set_bar_range(last_bars)
    assert repaint.isEnabled() and "left to right" not in repaint.toolTip()
    studio.generation._handle(Envelope(WorkerStatus(state=WorkerState.IDLE, model=model)))
    selection.set_bar_range(first_bar)
    assert repaint.isEnabled() and settings_box.sampler_combo.isEnabled()
