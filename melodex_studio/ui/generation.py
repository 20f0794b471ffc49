"""Generation from the studio: intents (generate, regenerate, retake, repaint the selected
bars, vary from a checkpoint, extend, plan) become worker jobs; finished jobs come back as
undoable commands (so undoing a render never re-runs inference).

Threads: building a request reads blobs (neighbouring takes' latents) and finishing one may
splice audio, so both run in the file executor; the worker client reports on its own threads
and every report is posted to the main thread before it touches a widget or the document.

The main thread stays light while a render runs: progress reaches the job queue and the
timeline at most once per frame (newest step wins), preview audio is decoded and reduced to
peaks in the file thread (only the newest waiting preview is drawn), and a finished take's
waveform peaks are computed with the take itself, so inserting it repaints its block once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog, QInputDialog, QWidget

from melodex_studio.audio.arrangement import PreviewAudio
from melodex_studio.audio.recording_import import read_recording
from melodex_studio.project.operations import (
    MELODEX_TINY_GEOMETRY,
    ImportRequest,
    LatentGeometry,
    OperationError,
    PlanRequest,
    RenderRequest,
    extend_section,
    finish_import,
    finish_render,
    fresh_seeds,
    generate_section,
    import_recording,
    plan_command,
    plan_request,
    recording_seconds,
    regenerate_section,
    repaint_bars,
    retake_section,
    vary_steps,
    vary_take,
)
from melodex_studio.ui.actions import StudioActions
from melodex_studio.ui.context import StudioContext
from melodex_studio.ui.dialogs.import_recording import (
    AS_IT_IS,
    ImportOptions,
    ImportRecordingDialog,
)
from melodex_studio.ui.frame_coalescer import FrameCoalescer
from melodex_studio.ui.panels.job_queue import JobQueuePanel
from melodex_studio.ui.project_files import ProjectFiles
from melodex_studio.ui.tasks import post_to_main
from melodex_studio.ui.timeline.scene import TimelineScene
from melodex_studio.ui.timeline.waveform import compute_peaks, peaks_of_audio_blob
from melodex_studio.worker.blobs import decode_tensor
from melodex_studio.worker.handles import new_job_id
from melodex_studio.worker.jobs import PlanOutput
from melodex_studio.worker.protocol import (
    Envelope,
    JobFailed,
    JobResult,
    JobStarted,
    Priority,
    Progress,
    WorkerState,
    WorkerStatus,
)

log = logging.getLogger(__name__)

RETAKE_COUNT = 4
DEFAULT_EXTEND_BARS = 4
DEFAULT_VARY_STRENGTH = 0.5  # Generate › Vary: the second half of the denoising run again
DEFAULT_VARIATION = 1.0  # ... with all of its randomness drawn anew
PREVIEW_EVERY_STEPS = 4

READY_STATES = (WorkerState.IDLE, WorkerState.BUSY)


class WorkerClientLike(Protocol):
    """What the controller needs of `WorkerClient` / `InProcessClient`."""

    def submit(self, job: Any, *, blobs: Any = ..., priority: Priority = ...,
               job_id: str | None = ..., timeout_s: float | None = ...,
               on_event: Any = ...) -> Any: ...

    def cancel(self, job_id: str) -> None: ...

    def close(self, timeout: float = ...) -> None: ...


@dataclass
class RunningJob:
    job_id: str
    title: str
    section_id: str
    request: RenderRequest | PlanRequest | ImportRequest | None = None
    seeds: tuple[int, ...] = ()  # new seeds it took at the click (kept from later clicks)
    cancelled: bool = False
    preview_busy: bool = False  # a preview is being reduced to peaks in the file thread
    preview_next: tuple[bytes, int] | None = None  # the newest preview waiting for its turn
    # Where the section sat and the song's timing when the job started (what a preview fits).
    start_bar: int = 0
    bpm: float = 0.0
    meter: str = ""


class GenerationController(QObject):
    sig_available_changed = Signal(bool, str)  # available, reason when not
    #: (section id, PreviewAudio | None): a render in progress has new audio, or ended.
    sig_render_preview = Signal(str, object)
    sig_worker_status = Signal(str, str)  # text for the status bar, state ("", "busy", "error")
    sig_message = Signal(str)

    def __init__(
        self,
        context: StudioContext,
        files: ProjectFiles,
        jobs: JobQueuePanel,
        scene: TimelineScene,
        actions: StudioActions,
        dialog_parent: QWidget,
    ) -> None:
        super().__init__(dialog_parent)
        self.context = context
        self.files = files
        self.jobs_panel = jobs
        self.scene = scene
        self.actions = actions
        self.dialog_parent = dialog_parent
        self.client: WorkerClientLike | None = None
        self.geometry: LatentGeometry = MELODEX_TINY_GEOMETRY
        self.model_text = ""
        self.model_plans = True  # the worker's model writes plans (Stable Audio Open does not)
        self.model_imports = True  # and encodes recordings to import
        self.model_repaints_inside = True  # and repaints bars with kept bars after them
        self.model_diffusion = True  # and has a sampler and noise levels (MusicGen has not)
        self._repaint_tip = actions.repaint.toolTip()
        self.device_text = ""  # " · cpu": where the worker runs, kept for "ready" after a job
        self.running: dict[str, RunningJob] = {}
        self.preview_every = PREVIEW_EVERY_STEPS
        self.frames = FrameCoalescer(parent=self)
        self._available = False
        actions.generate.triggered.connect(self._current(self.generate))
        actions.regenerate.triggered.connect(self._current(self.regenerate))
        actions.retake.triggered.connect(self._current(self.retake))
        actions.plan.triggered.connect(self._current(self.plan))
        actions.extend.triggered.connect(self._current(self.ask_extend))
        actions.vary.triggered.connect(self._current(self.vary))
        actions.import_audio.triggered.connect(self._current(self.ask_import))
        actions.repaint.triggered.connect(self.repaint_selection)
        actions.cancel_jobs.triggered.connect(self.cancel_all)
        context.selection.sig_current_changed.connect(self._update_actions)
        context.selection.sig_bar_range_changed.connect(self._update_actions)
        context.signals.sig_project_changed.connect(self._update_actions)

    # -- the worker ---------------------------------------------------------------------------

    def attach_client(self, client: WorkerClientLike) -> None:
        """Use `client` (created with `on_event=controller.on_client_event`)."""
        self.client = client

    def on_client_event(self, envelope: Envelope) -> None:
        """The client's event callback: runs on a client thread, so it only posts."""
        post_to_main(lambda: self._handle(envelope))

    @property
    def available(self) -> bool:
        return self._available and self.client is not None

    def _set_available(self, available: bool, reason: str) -> None:
        state = (available, self.model_plans, self.model_imports, self.model_diffusion)
        if state != self._announced:  # a model that cannot plan greys out the planning
            self._available = available
            self._announced = state
            self.sig_available_changed.emit(available, reason)
        self._update_actions()

    _announced: tuple[bool, bool, bool, bool] = (False, True, True, True)

    def _handle(self, envelope: Envelope) -> None:
        message = envelope.message
        if isinstance(message, WorkerStatus):
            self._on_status(message)
            return
        job = self.running.get(message.job_id)
        if job is None:
            return
        if isinstance(message, JobStarted):
            self._post_progress(job, 0, 1, "Running", "Rendering…")
        elif isinstance(message, Progress):
            step, total = message.step, message.total
            self._post_progress(job, step, total, f"Step {step}/{total}",
                                f"{job.title.split(' ', 1)[0]} {step}/{total}")
            preview = envelope.blobs.get(message.preview_audio or "")
            if preview is not None and message.preview_sample_rate:
                self._show_preview(job, preview, message.preview_sample_rate)
        elif isinstance(message, JobResult):
            self._finish(job, envelope)
        elif isinstance(message, JobFailed):
            self._failed(job, message.reason, cancelled=message.kind == "cancelled")

    def _post_progress(self, job: RunningJob, step: int, total: int, panel_text: str,
                       item_text: str) -> None:
        """Show a step with the next frame; a newer step of the same job replaces it."""
        def show() -> None:
            if job.job_id in self.running:
                self.jobs_panel.set_progress(job.job_id, step, total, panel_text)
                self._item_progress(job, step / max(1, total), item_text)

        self.frames.post((job.job_id, "progress"), show)

    def _on_status(self, status: WorkerStatus) -> None:
        if status.model is not None:
            self.geometry = LatentGeometry.from_model(status.model)
            self.model_text = status.model.model_id
            self.model_plans, self.model_imports = status.model.plans, status.model.imports
            self.model_repaints_inside = status.model.repaints_inside
            self.model_diffusion = status.model.diffusion
        half = " · bf16" if status.precision == "bfloat16" else ""
        device = self.device_text = f" · {status.device}{half}" if status.device else ""
        if status.state is WorkerState.BROKEN:
            self.sig_worker_status.emit(f"unavailable ({status.detail})", "error")
            self._set_available(False, status.detail or "the worker cannot start")
        elif status.state in READY_STATES:
            busy = status.state is WorkerState.BUSY or bool(self.running)
            self.sig_worker_status.emit(f"{'busy' if busy else 'ready'}{device}",
                                        "busy" if busy else "ok")
            self._set_available(True, "")
        else:
            self.sig_worker_status.emit(f"{status.state.value}…", "busy")
            self._set_available(False, f"the worker is {status.state.value}")

    # -- intents ------------------------------------------------------------------------------

    def _current(self, intent: Callable[[str], None]) -> Callable[[], None]:
        def run() -> None:
            section_id = self.context.selection.current_id
            if section_id is not None:
                intent(section_id)

        return run

    def generate(self, section_id: str) -> str | None:
        return self._render(section_id, "Generate", generate_section)

    def regenerate(self, section_id: str) -> str | None:
        (seed,) = seeds = self._new_seeds(section_id, 1)
        return self._render(section_id, "Regenerate",
                            lambda project, read_blob, sid, **options: regenerate_section(
                                project, read_blob, sid, seed=seed, **options), seeds=seeds)

    def retake(self, section_id: str, count: int = RETAKE_COUNT) -> str | None:
        seeds = self._new_seeds(section_id, count, honour_lock=False)
        return self._render(section_id, "Retake",
                            lambda project, read_blob, sid, **options: retake_section(
                                project, read_blob, sid, count, seeds=seeds, **options),
                            seeds=seeds, detail=f"×{count}")

    def _new_seeds(self, section_id: str, count: int, honour_lock: bool = True,
                   ) -> tuple[int, ...]:
        """Fresh seeds for `count` new takes, taken at the click: two clicks before the first
        render lands get different seeds (the project does not know the first one yet)."""
        running = {seed for job in self.running.values() if job.section_id == section_id
                   for seed in job.seeds}
        return fresh_seeds(self.context.project.section(section_id), count, honour_lock,
                           avoid=running)

    def repaint(self, section_id: str, ranges: tuple[tuple[int, int], ...]) -> str | None:
        (seed,) = seeds = self._new_seeds(section_id, 1)
        return self._render(section_id, "Repaint",
                            lambda project, read_blob, sid, **options: repaint_bars(
                                project, read_blob, sid, ranges, seed=seed, **options),
                            seeds=seeds)

    def repaint_selection(self) -> None:
        bar_range = self.context.selection.bar_range
        if bar_range is not None:
            self.repaint(bar_range.section_id, ((bar_range.start, bar_range.end),))

    def extend(self, section_id: str, bars: int) -> str | None:
        (seed,) = seeds = self._new_seeds(section_id, 1)
        return self._render(section_id, "Extend",
                            lambda project, read_blob, sid, **options: extend_section(
                                project, read_blob, sid, bars, seed=seed, **options),
                            seeds=seeds, detail=f"by {bars} bar{'s' * (bars != 1)}")

    def ask_extend(self, section_id: str) -> None:
        bars, ok = QInputDialog.getInt(self.dialog_parent, "Extend Section",
                                       "Bars to add after the section:", DEFAULT_EXTEND_BARS, 1,
                                       64)
        if ok:
            self.extend(section_id, bars)

    def vary(self, section_id: str, take_id: str | None = None, step: int | None = None,
             variation: float = DEFAULT_VARIATION) -> str | None:
        """A variation of a take (the active one by default) from its state at `step` (by
        default the one `DEFAULT_VARY_STRENGTH` picks), drawing `variation` of what comes
        after anew, with what the section asks for now: its prompt, plan and guidance (the
        steps stay the take's: the step counts along its trajectory)."""
        section = self.context.project.section(section_id)
        take_id = take_id or section.active_take_id
        if take_id is None:
            self.sig_message.emit(f"{section.name} has no take to vary yet: generate it first")
            return None
        steps = section.take(take_id).settings.steps
        settings = section.settings.model_copy(update={"steps": steps})
        strength = DEFAULT_VARY_STRENGTH if step is None else None
        detail = "" if step is None else f"from step {step}"
        (seed,) = seeds = self._new_seeds(section_id, 1, honour_lock=False)
        return self._render(section_id, "Vary",
                            lambda project, read_blob, _sid, **options: vary_take(
                                project, read_blob, take_id, strength, step=step,
                                variation=variation, seed=seed, prompt=section.prompt,
                                settings=settings, **options), seeds=seeds, detail=detail)

    def vary_from_panel(self, section_id: str, take_id: str, step: int, variation: float) -> None:
        self.vary(section_id, take_id, step, variation)

    def ask_import(self, section_id: str) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self.dialog_parent, "Import Audio into the Section", "",
            "Audio (*.wav *.flac *.aif *.aiff *.ogg *.mp3);;All files (*)")
        if not path:
            return
        project = self.context.project
        section = project.section(section_id)
        dialog = ImportRecordingDialog(Path(path).name, section.name,
                                       project.section_bpm(section),
                                       project.section_key(section), self.dialog_parent)
        if dialog.exec() == ImportRecordingDialog.DialogCode.Accepted:
            self.import_audio(section_id, Path(path), options=dialog.options())

    def import_audio(self, section_id: str, path: Path, start_bar: int = 0,
                     options: ImportOptions = AS_IT_IS) -> str | None:
        """Import the recording at `path` into a section as its new active take, starting at
        the section's bar `start_bar`, stretched and transposed as `options` say. The file is
        read, mixed to mono, resampled and warped on the file thread; the worker encodes it."""
        if not self._check_ready():
            return None
        project = self.context.project
        section = project.section(section_id)
        at = f" at bar {start_bar + 1}" if start_bar else ""
        name = options.take_name(path.name, project.section_bpm(section))
        job = self._start(section_id, f"Import {name} into {section.name}{at}")
        client, geometry = self.client, self.geometry
        seconds = recording_seconds(project, section_id, start_bar, geometry)

        def read_and_submit() -> ImportRequest:
            recording = read_recording(path, geometry.sample_rate, seconds,
                                       tempo_factor=options.tempo_factor,
                                       semitones=options.semitones)
            request = import_recording(project, section_id, recording.audio,
                                       name=name, geometry=geometry, start_bar=start_bar)
            job.request = request  # before submit: the result may arrive before on_done
            client.submit(request.job, blobs=dict(request.blobs), job_id=job.job_id,
                          priority=Priority.INTERACTIVE)
            return request

        self.context.executor.submit(
            job.title, read_and_submit,
            on_error=lambda error: self._failed(job, _reason(error)), context=self)
        return job.job_id

    def plan(self, section_id: str) -> str | None:
        if not self._check_ready():
            return None
        section = self.context.project.section(section_id)
        verb = "Re-plan" if section.plan is not None and section.plan.locked_bars() else "Plan"
        job = self._start(section_id, f"{verb} {section.name}")
        project = self.context.project
        client = self.client

        def build_and_submit() -> None:
            request = plan_request(project, section_id)
            job.request = request
            client.submit(request.job, priority=Priority.INTERACTIVE, job_id=job.job_id)

        self.context.executor.submit(
            job.title, build_and_submit,
            on_error=lambda error: self._failed(job, _reason(error)), context=self)
        return job.job_id

    # -- running renders ----------------------------------------------------------------------

    def _check_ready(self) -> bool:
        if not self.available:
            self.sig_message.emit("The inference worker is not ready yet.")
            return False
        return True

    def _start(self, section_id: str, title: str) -> RunningJob:
        project = self.context.project
        section = project.section(section_id)
        job = RunningJob(new_job_id(), title, section_id, start_bar=section.start_bar,
                         bpm=project.section_bpm(section),
                         meter=str(project.section_meter(section)))
        self.running[job.job_id] = job
        # Busy from the click on, not from the worker's next status message: a render of a
        # few seconds often sends none, and "ready" beside a running job reads as stuck.
        self.sig_worker_status.emit(f"busy{self.device_text}", "busy")
        self.jobs_panel.add_job(job.job_id, title, cancel=lambda: self.cancel(job.job_id))
        self._item_progress(job, 0.0, "Queued")
        return job

    def _render(self, section_id: str, verb: str, build: Callable[..., RenderRequest],
                *args: Any, seeds: tuple[int, ...] = (), detail: str = "") -> str | None:
        """Start a render job titled "{verb} {section} {detail}" ("Vary Chorus from step 8"),
        built on the file thread from the project as it is now."""
        if not self._check_ready():
            return None
        section = self.context.project.section(section_id)
        job = self._start(section_id, f"{verb} {section.name}" + (f" {detail}" if detail else ""))
        job.seeds = seeds
        project, client = self.context.project, self.client
        read_blob, geometry, preview_every = self.files.read_blob, self.geometry, self.preview_every

        def build_and_submit() -> RenderRequest:
            request = build(project, read_blob, section_id, *args, geometry=geometry,
                            preview_every=preview_every)
            job.request = request  # before submit: the result may arrive before on_done
            if request.job is not None:
                client.submit(request.job, blobs=dict(request.blobs), job_id=job.job_id,
                              priority=Priority.INTERACTIVE)
            return request

        def built(request: RenderRequest) -> None:
            if request.job is None:  # a variation at strength 0 is its source: no inference
                self._finish(job, None)

        self.context.executor.submit(
            job.title, build_and_submit, on_done=built,
            on_error=lambda error: self._failed(job, _reason(error)), context=self)
        return job.job_id

    def _finish(self, job: RunningJob, envelope: Envelope | None) -> None:
        project = self.context.project
        request = job.request
        if isinstance(request, PlanRequest):
            output = envelope.message.output if envelope is not None else None
            if not isinstance(output, PlanOutput):
                self._failed(job, "the worker returned no plan")
                return
            try:
                command = plan_command(project, request, output)
            except (OperationError, ValueError) as error:
                self._failed(job, _reason(error))
                return
            self._apply(job, command, {}, "Plan ready")
            return
        read_blob = self.files.read_blob

        def finish_with_peaks():
            if isinstance(request, ImportRequest):
                outcome = finish_import(project, request, envelope)
            else:
                outcome = finish_render(project, request, envelope, read_blob)
            # The new takes' waveforms, computed here rather than in a second task after the
            # take is in the project: the block repaints once, already with its waveform.
            return outcome, _peaks_of_new_takes(outcome)

        def finished(result) -> None:
            outcome, peaks = result
            for sha, take_peaks in peaks.items():
                self.scene.waveforms.put(sha, take_peaks)
            added = f"{len(outcome.takes)} take(s) added"
            self._apply(job, outcome.command, dict(outcome.blobs),
                        f"{added} ({outcome.note})" if outcome.note else added)

        self.context.executor.submit(
            f"Finish {job.title}", finish_with_peaks,
            on_done=finished, on_error=lambda error: self._failed(job, _reason(error)),
            context=self)

    def _apply(self, job: RunningJob, command, blobs: dict[str, bytes], done_text: str) -> None:
        self.files.add_blobs(blobs)
        if self.context.undo.push(command):
            self.jobs_panel.set_finished(job.job_id, True, done_text)
            self.sig_message.emit(f"{job.title}: {done_text}")
        else:
            self.jobs_panel.set_finished(job.job_id, False, "the project changed; not applied")
        self._done(job)

    def _failed(self, job: RunningJob, reason: str, cancelled: bool = False) -> None:
        self.jobs_panel.set_finished(job.job_id, False, "Cancelled" if cancelled else reason)
        if not cancelled:
            self.sig_message.emit(f"{job.title} failed: {reason}")
        self._done(job)

    def _done(self, job: RunningJob) -> None:
        self.running.pop(job.job_id, None)
        self.frames.discard((job.job_id, "progress"))
        job.preview_next = None
        self._item_progress(job, None)
        if not any(other.section_id == job.section_id for other in self.running.values()):
            self.sig_render_preview.emit(job.section_id, None)
        if not self.running:
            self.sig_worker_status.emit(f"ready{self.device_text}", "ok")

    def _item_progress(self, job: RunningJob, fraction: float | None, text: str = "") -> None:
        item = self.scene.items_by_id.get(job.section_id)
        if item is not None and fraction is None:
            item.set_preview(None)
        if item is not None:
            others = [j for j in self.running.values()
                      if j.section_id == job.section_id and j is not job]
            item.set_render_progress(None if fraction is None and not others else
                                     (fraction or 0.0), text)

    def _show_preview(self, job: RunningJob, blob: bytes, sample_rate: int) -> None:
        """Draw the worker's rough decode of the render so far on the section. Peaks are
        computed in the file thread, one preview at a time: one that arrives meanwhile waits,
        and a newer one replaces it (only the newest is worth drawing)."""
        job.preview_next = (blob, sample_rate)
        if not job.preview_busy:
            self._next_preview(job)

    def _next_preview(self, job: RunningJob) -> None:
        waiting, job.preview_next = job.preview_next, None
        job.preview_busy = waiting is not None and job.job_id in self.running
        if not job.preview_busy:
            return
        blob, sample_rate = waiting
        request = job.request
        bars = request.length_bars if isinstance(request, RenderRequest) else None

        def peaks() -> tuple[np.ndarray, PreviewAudio | None]:
            audio = np.asarray(decode_tensor(blob, "audio"), dtype=np.float32).reshape(-1)
            audio.flags.writeable = False
            preview = None if bars is None else PreviewAudio(
                audio, sample_rate, job.start_bar, bars, job.bpm, job.meter)
            return compute_peaks(audio, sample_rate), preview

        def show(result: tuple[np.ndarray, PreviewAudio | None]) -> None:
            peaks, preview = result
            item = self.scene.items_by_id.get(job.section_id)
            if job.job_id in self.running:
                if item is not None:
                    item.set_preview(peaks, sample_rate)
                if preview is not None:
                    self.sig_render_preview.emit(job.section_id, preview)
            self._next_preview(job)

        def skip(error: BaseException) -> None:  # a damaged preview: wait for the next one
            log.warning("preview of %s not drawn: %s", job.title, error)
            self._next_preview(job)

        self.context.executor.submit("Preview waveform", peaks, on_done=show, on_error=skip,
                                     context=self)

    def cancel(self, job_id: str) -> None:
        job = self.running.get(job_id)
        if job is not None and self.client is not None:
            job.cancelled = True
            self.client.cancel(job_id)

    def cancel_all(self) -> None:
        self.jobs_panel.cancel_all()

    def _update_actions(self, *_args: object) -> None:
        ready = self.available
        section = self.context.selection.current_section()
        active = section.active_take if section is not None else None
        actions = self.actions
        for action in (actions.generate, actions.regenerate, actions.retake, actions.extend):
            action.setEnabled(ready and section is not None)
        actions.plan.setEnabled(ready and section is not None and self.model_plans)
        bar_range = self.context.selection.bar_range
        # A left-to-right model (MusicGen) repaints only bars that run to the section's end.
        inside = (section is not None and bar_range is not None
                  and bar_range.end < section.length_bars and not self.model_repaints_inside)
        actions.repaint.setEnabled(ready and active is not None and bar_range is not None
                                   and bar_range.section_id == section.id and not inside)
        actions.repaint.setToolTip(
            f"{self.model_text} writes music left to right: it repaints bars up to the "
            "section's end (select them), or vary the take from a step" if inside
            else self._repaint_tip)
        actions.vary.setEnabled(ready and active is not None and bool(vary_steps(active)))
        actions.import_audio.setEnabled(ready and section is not None and self.model_imports)

    def close(self) -> None:
        client, self.client = self.client, None
        if client is not None:
            client.close()


def _peaks_of_new_takes(outcome) -> dict[str, np.ndarray]:
    """Waveform peaks of the audio a finished render brought (file thread). Best effort: a
    take whose audio cannot be read here still arrives, and the waveform service reports it."""
    peaks: dict[str, np.ndarray] = {}
    for take in outcome.takes:
        if take.audio is None or take.audio in peaks or take.audio not in outcome.blobs:
            continue
        try:
            peaks[take.audio] = peaks_of_audio_blob(outcome.blobs[take.audio],
                                                    take.audio_sample_rate)
        except Exception as error:  # safetensors and audio errors alike: no waveform yet
            log.warning("no waveform yet for take %s: %s", take.display_name, error)
    return peaks


def _reason(error: BaseException) -> str:
    message = getattr(error, "message", None) or getattr(error, "reason", None) or str(error)
    return " ".join(str(message).split()) or type(error).__name__
