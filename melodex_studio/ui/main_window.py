"""The studio window: composes the transport bar, the timeline, the docked panels and the
status bar, and wires them to the shared context. Behaviour lives in the parts."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QDockWidget, QMainWindow, QMessageBox, QWidget

from melodex_studio import __version__
from melodex_studio.audio.arrangement import decode_take_audio
from melodex_studio.audio.backends import list_output_devices
from melodex_studio.audio.errors import AudioError
from melodex_studio.project.take import Take
from melodex_studio.settings import Settings
from melodex_studio.store import RecoveryJournal
from melodex_studio.ui.actions import StudioActions
from melodex_studio.ui.context import StudioContext
from melodex_studio.ui.dialogs.preferences import PreferencesDialog
from melodex_studio.ui.dialogs.shortcuts import ShortcutsDialog
from melodex_studio.ui.generation import GenerationController
from melodex_studio.ui.menus import build_menu_bar, fill_recent_menu
from melodex_studio.ui.panels.inspector import InspectorPanel
from melodex_studio.ui.panels.job_queue import JobQueuePanel
from melodex_studio.ui.panels.plan_editor import PlanEditor
from melodex_studio.ui.panels.takes_panel import TakesPanel
from melodex_studio.ui.playback import PlaybackController
from melodex_studio.ui.project_files import ProjectFiles
from melodex_studio.ui.recovery import CrashRecovery
from melodex_studio.ui.resources import app_icon, resources_dir
from melodex_studio.ui.section_editing import SectionEditing
from melodex_studio.ui.status_bar import StudioStatusBar
from melodex_studio.ui.theme import apply_theme
from melodex_studio.ui.timeline.scene import TimelineScene
from melodex_studio.ui.timeline.view import TimelineView
from melodex_studio.ui.timeline.waveform import WaveformService
from melodex_studio.ui.transport_bar import TransportBar
from melodex_studio.ui.window_state import restore_window_state, save_window_state


class MainWindow(QMainWindow):
    def __init__(
        self,
        context: StudioContext,
        *,
        journal: RecoveryJournal | None = None,
        restore_layout: bool = True,
    ) -> None:
        super().__init__()
        self.context = context
        self.setWindowIcon(app_icon())
        self.setAcceptDrops(True)
        self.setDockNestingEnabled(True)
        # The right column runs the full height: inspector and takes are read side by side
        # with everything else, and the plan gets the width under the timeline.
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        self._close_confirmed = False

        self.studio_actions = StudioActions(self)
        actions = self.studio_actions
        self.undo_action = context.undo.createUndoAction(self)
        self.redo_action = context.undo.createRedoAction(self)
        self.playback = PlaybackController(context, self)
        self.waveforms = WaveformService(context.executor, self)
        self.files = ProjectFiles(context, self, journal)
        self.recovery = CrashRecovery(self.files)
        self.editing = SectionEditing(context, actions, self.playback, self)

        self.scene = TimelineScene(context, self.waveforms)
        self.timeline = TimelineView(self.scene, self.playback)
        self.setCentralWidget(self.timeline)
        self.transport_bar = TransportBar(context, self.playback, actions, self)
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, self.transport_bar)

        self.inspector = InspectorPanel(context)
        self.takes_panel = TakesPanel(context, self.playback)
        self.plan_editor = PlanEditor(context)
        self.jobs = JobQueuePanel()
        self.inspector_dock = self._dock("Inspector", "inspectorDock", self.inspector,
                                         Qt.DockWidgetArea.RightDockWidgetArea)
        self.takes_dock = self._dock("Takes", "takesDock", self.takes_panel,
                                     Qt.DockWidgetArea.RightDockWidgetArea)
        self.splitDockWidget(self.inspector_dock, self.takes_dock, Qt.Orientation.Vertical)
        self.plan_dock = self._dock("Plan", "planDock", self.plan_editor,
                                    Qt.DockWidgetArea.BottomDockWidgetArea)
        self.jobs_dock = self._dock("Jobs", "jobsDock", self.jobs,
                                    Qt.DockWidgetArea.BottomDockWidgetArea)
        self.splitDockWidget(self.plan_dock, self.jobs_dock, Qt.Orientation.Horizontal)
        self.resizeDocks([self.inspector_dock], [380], Qt.Orientation.Horizontal)
        self.resizeDocks([self.plan_dock, self.jobs_dock], [860, 340], Qt.Orientation.Horizontal)
        self.resizeDocks([self.inspector_dock, self.takes_dock], [600, 340],
                         Qt.Orientation.Vertical)
        self.resizeDocks([self.plan_dock], [300], Qt.Orientation.Vertical)

        self.status = StudioStatusBar(self)
        self.setStatusBar(self.status)
        self.recent_menu = build_menu_bar(
            self, actions, self.undo_action, self.redo_action,
            [self.inspector_dock.toggleViewAction(), self.takes_dock.toggleViewAction(),
             self.plan_dock.toggleViewAction(), self.jobs_dock.toggleViewAction()],
        )
        # Window-wide shortcuts work even when the menu bar is hidden (some desktops hide it).
        for action in (self.undo_action, self.redo_action, *actions.all_actions()):
            self.addAction(action)
        self.generation = GenerationController(context, self.files, self.jobs, self.scene,
                                               actions, self)
        self._wire()
        self.set_generation_available(False, "the inference worker is not running")
        self._fit_to_screen()
        if restore_layout:
            extra = restore_window_state(self)
            try:
                zoom = float(extra.get("pixels_per_bar") or 0)
            except (TypeError, ValueError):
                zoom = 0.0
            if zoom > 0:
                self.scene.geometry.pixels_per_bar = self.scene.geometry.clamp_zoom(zoom)
            for key, action in self._remembered_toggles().items():
                if key in extra:  # QSettings' INI format hands booleans back as "true"/"false"
                    action.setChecked(str(extra[key]).lower() == "true")
        self._update_title()

    def _remembered_toggles(self) -> dict[str, QAction]:
        """Transport switches kept with the window layout between sessions."""
        actions = self.studio_actions
        return {"metronome": actions.metronome, "count_in": actions.count_in,
                "audition_renders": actions.audition_renders}

    def _fit_to_screen(self) -> None:
        """A first start (nothing saved yet) gets most of the screen, up to 1600 x 1000."""
        screen = QApplication.primaryScreen()
        if screen is None:
            self.resize(1440, 900)
            return
        area = screen.availableGeometry()
        self.resize(min(1600, round(area.width() * 0.92)), min(1000, round(area.height() * 0.92)))

    def _dock(self, title: str, name: str, widget: QWidget, area: Qt.DockWidgetArea) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable
                         | QDockWidget.DockWidgetFeature.DockWidgetClosable
                         | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        self.addDockWidget(area, dock)
        return dock

    def _wire(self) -> None:
        context, actions, files = self.context, self.studio_actions, self.files
        actions.new.triggered.connect(files.new_project)
        actions.open.triggered.connect(files.open_dialog)
        actions.save.triggered.connect(lambda: files.save())
        actions.save_as.triggered.connect(lambda: files.save_as())
        actions.quit.triggered.connect(self.close)
        actions.export.triggered.connect(self.show_export)
        actions.open_demo.triggered.connect(
            lambda: files.open_copy(resources_dir() / "demo" / "night-drive.mlx"))
        actions.shortcuts.triggered.connect(self.show_shortcuts)
        actions.about.triggered.connect(self.show_about)
        actions.preferences.triggered.connect(self.show_preferences)
        actions.zoom_in.triggered.connect(self.timeline.zoom_in)
        actions.zoom_out.triggered.connect(self.timeline.zoom_out)
        actions.zoom_fit.triggered.connect(self.timeline.zoom_to_fit)
        actions.cancel_jobs.triggered.connect(self.jobs.cancel_all)

        context.undo.sig_edit_refused.connect(self.status.message)
        context.executor.sig_task_failed.connect(
            lambda label, message: self.status.message(f"{label} failed: {message}"))
        self.playback.sig_message.connect(self.status.message)
        self.playback.sig_device_changed.connect(
            lambda text: self.status.set_device(text, ok=text != "no audio device"))
        files.sig_message.connect(self.status.message)
        files.sig_autosave_state.connect(self.status.set_autosave)
        files.sig_path_changed.connect(lambda _p: self._update_title())
        files.sig_modified_changed.connect(lambda _m: self._update_title())
        files.sig_blobs_changed.connect(self._blobs_changed)
        context.signals.sig_project_fields_changed.connect(lambda _f: self._update_title())
        context.settings.sig_settings_changed.connect(lambda _s: self._fill_recent())
        self.timeline.sig_context_menu.connect(self.editing.show_context_menu)
        self.timeline.sig_status.connect(self._show_gesture_status)
        self.timeline.sig_rename_requested.connect(self.editing.rename)
        self.timeline.sig_audio_dropped.connect(
            lambda section_id, path, bar: self.generation.import_audio(section_id, Path(path),
                                                                       bar))
        self.timeline.sig_add_section_requested.connect(
            lambda bar: self.editing._add_at(None, bar))
        generation = self.generation
        generation.sig_available_changed.connect(self.set_generation_available)
        generation.sig_worker_status.connect(self._worker_status)
        generation.sig_message.connect(self.status.message)
        generation.sig_render_preview.connect(self.playback.set_render_preview)
        self.takes_panel.sig_vary_requested.connect(generation.vary_from_panel)
        self.plan_editor.sig_replan_requested.connect(self._replan)
        self.status.set_model(context.settings.value.inference.model_id)
        self._blobs_changed()
        self._fill_recent()

    # -- dialogs ------------------------------------------------------------------------------

    def show_export(self):
        # Imported on first use: the export chain (loudness, limiter) loads scipy, which would
        # add seconds to every start of the studio.
        from melodex_studio.ui.dialogs.export import ExportDialog

        base = self.files.path or Path.home() / f"{self.context.project.title}.mlx"
        dialog = ExportDialog(self.context, self.read_take_audio, base.with_suffix(".wav"), self)
        dialog.setModal(True)
        dialog.show()
        return dialog

    def show_shortcuts(self) -> None:
        ShortcutsDialog([self.undo_action, self.redo_action, *self.studio_actions.all_actions()],
                        self).exec()

    def show_about(self) -> None:
        QMessageBox.about(
            self, "About Melodex Studio",
            f"<b>Melodex Studio {__version__}</b><br>Plan song sections, render them, keep "
            "every take.<br><br>Models run in a separate worker process; projects are single "
            ".mlx files.")

    def show_preferences(self) -> None:
        """List the audio devices in the file thread (PortAudio may take a moment), then ask."""
        def names() -> list[str]:
            try:
                return [device.name for device in list_output_devices()]
            except AudioError:
                return []

        self.context.executor.submit("List audio devices", names,
                                     on_done=self._ask_preferences, context=self)

    def _ask_preferences(self, devices: list[str]) -> None:
        holder = self.context.settings
        dialog = PreferencesDialog(holder.value, devices, self)
        if dialog.exec() != PreferencesDialog.DialogCode.Accepted:
            return
        self.apply_preferences(dialog.settings())

    def apply_preferences(self, new: Settings) -> None:
        holder = self.context.settings
        old = holder.value
        holder.update(new)
        self.playback.set_metronome_level(new.audio.metronome_db)
        self.playback.set_swap_crossfade(new.audio.swap_crossfade_ms)
        unchanged = {"metronome_db": old.audio.metronome_db,
                     "swap_crossfade_ms": old.audio.swap_crossfade_ms}
        if new.audio.model_copy(update=unchanged) != old.audio:
            self.playback.open_device_async(new.audio)  # levels and fades need no new stream
        if new.theme != old.theme:
            app = QApplication.instance()
            apply_theme(app, new.theme)
            self.studio_actions.refresh_icons()
            self.scene.update()
        if new.inference != old.inference and self.worker_factory is not None:
            self.restart_worker()

    def restart_worker(self) -> None:
        """Close the running worker (in the file thread: it may take a few seconds) and start
        one with the current preferences."""
        old = self.generation.client
        self.generation.client = None
        if old is not None:
            self.context.executor.submit("Stop worker", old.close)
        if self.worker_factory is not None:
            self.worker_factory(self)

    worker_factory = None  # set by the app: starts a worker for this window

    def read_take_audio(self, take: Take):
        if take.audio is None:
            raise KeyError(f"take {take.display_name} has no audio")
        return decode_take_audio(self.files.read_blob(take.audio))

    def _show_gesture_status(self, text: str) -> None:
        if text:
            self.status.message(text, 2000)

    def _blobs_changed(self) -> None:
        self.waveforms.set_blob_reader(self.files.read_blob)
        self.playback.set_audio_reader(self.read_take_audio)

    def _fill_recent(self) -> None:
        fill_recent_menu(self.recent_menu, self.context.settings.value.recent_files,
                         lambda path: self.files.open_path(path))

    def _update_title(self) -> None:
        # "[*]" is where Qt shows the modified mark (an asterisk on most platforms).
        self.setWindowTitle(f"{self.context.project.title} — {self.files.display_name()}[*]"
                            " — Melodex Studio")
        self.setWindowModified(self.files.is_modified())

    def set_generation_available(self, available: bool, reason: str = "") -> None:
        """Grey out what needs the model when it is not there, and say why."""
        for action in self.studio_actions.generation_actions():
            tip = action.statusTip()
            action.setToolTip(tip if available else f"{tip} — {reason}")
        self.generation._update_actions()
        self.takes_panel.set_generation_available(available)
        self.plan_editor.set_generation_available(available, self.generation.model_plans,
                                                  self.generation.model_text)
        self.inspector.generation.set_model(self.generation.model_diffusion,
                                            self.generation.model_text)

    def _worker_status(self, text: str, state: str) -> None:
        self.status.set_worker(text, state)
        if self.generation.model_text:
            self.status.set_model(self.generation.model_text)

    def _replan(self, section_id: str) -> None:
        self.generation.plan(section_id)

    # -- drag and drop ------------------------------------------------------------------------

    @staticmethod
    def _dropped_project(event: QDragEnterEvent | QDropEvent) -> Path | None:
        for url in event.mimeData().urls():
            if url.isLocalFile() and url.toLocalFile().lower().endswith(".mlx"):
                return Path(url.toLocalFile())
        return None

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if self._dropped_project(event) is not None:
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        path = self._dropped_project(event)
        if path is not None:
            event.acceptProposedAction()
            self.files.open_path(path)

    # -- closing ------------------------------------------------------------------------------

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._close_confirmed and self.files.is_modified():
            event.ignore()
            self.files.with_unsaved_check(self._close_now)
            return
        toggles = {key: action.isChecked() for key, action in self._remembered_toggles().items()}
        save_window_state(self, {"pixels_per_bar": self.scene.geometry.pixels_per_bar, **toggles})
        self.playback.close()
        self.generation.close()
        self.files.shutdown()
        self.context.signals.detach()
        event.accept()

    def _close_now(self) -> None:
        self._close_confirmed = True
        # Qt ignores close() from inside closeEvent: close on the next turn of the loop.
        QTimer.singleShot(0, self.close)
