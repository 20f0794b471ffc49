"""Every command a musician can give the studio as a QAction: text, shortcut, icon, tip.

Actions are created here with no behaviour; the parts that own the behaviour (file handling,
section editing, transport, generation) connect to them. Menus, toolbars and the context menu
share these objects, so a shortcut, a menu item and a button can never disagree.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Qt
from PySide6.QtGui import QAction, QKeySequence

from melodex_studio.ui.resources import icon

Shortcut = str | QKeySequence.StandardKey | list[str] | None


class StudioActions(QObject):
    def __init__(self, parent: QObject) -> None:
        super().__init__(parent)
        self._all: list[QAction] = []
        make = self._make
        # File
        self.new = make("&New Project…", QKeySequence.StandardKey.New, "new",
                        "Start a new song: tempo, key, meter and sections")
        self.open = make("&Open…", QKeySequence.StandardKey.Open, "open", "Open a .mlx project")
        self.save = make("&Save", QKeySequence.StandardKey.Save, "save", "Save the project")
        self.save_as = make("Save &As…", "Ctrl+Shift+S", "save", "Save under a new name")
        self.export = make("&Export…", "Ctrl+E", "export",
                           "Export a mixdown, per-section files or the plan as MIDI")
        self.preferences = make("&Preferences…", "Ctrl+,", "settings",
                                "Audio device, model, threads, autosave and theme")
        self.quit = make("&Quit", QKeySequence.StandardKey.Quit, None, "Close the studio")
        self.quit.setMenuRole(QAction.MenuRole.QuitRole)
        # Edit (undo and redo come from the undo adapter)
        self.add_section = make("&Add Section", "Ctrl+T", "add_section",
                                "Add an 8-bar section after the selection (or at the end)")
        self.duplicate = make("&Duplicate", "Ctrl+D", "duplicate",
                              "Copy the selected sections (with their active take) after them")
        self.delete = make("De&lete", ["Delete", "Backspace"], "delete",
                           "Delete the selected sections")
        self.rename = make("&Rename…", "F2", "rename", "Rename the current section")
        self.mute = make("&Mute", "M", "mute",
                         "Silence the selected sections (they keep their place and takes)")
        self.mute.setCheckable(True)
        self.select_all = make("Select &All", QKeySequence.StandardKey.SelectAll, None,
                               "Select every section")
        # Transport
        self.play = make("&Play / Stop", "Space", "play", "Play from the playhead, or stop")
        self.play.setCheckable(True)
        self.to_start = make("Go to &Start", "Home", "to_start", "Playhead to the start")
        self.to_end = make("Go to &End", "End", "to_end", "Playhead to the end of the song")
        self.loop = make("&Loop", "Ctrl+L", "loop", "Loop the loop range")
        self.loop.setCheckable(True)
        self.loop_selection = make("Loop &Selection", "L", None,
                                   "Loop the selected bars or sections and switch looping on")
        self.metronome = make("&Metronome", "C", "metronome",
                              "Click every beat while playing (never in the export)")
        self.metronome.setCheckable(True)
        self.count_in = make("Count-&In", "Shift+C", None,
                             "One bar of clicks before playback starts")
        self.count_in.setCheckable(True)
        self.audition_renders = make(
            "&Hear Renders as They Grow", None, "audition",
            "While playing, a section that is rendering plays its render in progress")
        self.audition_renders.setCheckable(True)
        self.audition_renders.setChecked(True)
        self.follow = make("&Follow Playhead", "F", "follow", "Keep the playhead in view")
        self.follow.setCheckable(True)
        self.follow.setChecked(True)
        # View
        self.zoom_in = make("Zoom &In", ["+", "=", "Ctrl++"], "zoom_in", "Zoom in (Ctrl+wheel)")
        self.zoom_out = make("Zoom &Out", ["-", "Ctrl+-"], "zoom_out", "Zoom out (Ctrl+wheel)")
        self.zoom_fit = make("Zoom to &Fit", "Ctrl+0", None, "Show the whole song")
        # Generate
        self.plan = make("&Plan Section", "Ctrl+P", "plan",
                         "Let the structure model propose chords, energy and drums")
        self.generate = make("&Generate", "Ctrl+G", "generate", "Render the section from its plan")
        self.regenerate = make("&Regenerate", "Ctrl+Shift+G", "regenerate",
                               "Render the section again with a new seed (a new take)")
        self.repaint = make("Re&paint Selection", "Ctrl+R", "repaint",
                            "Render only the selected bars again; the rest stays bit for bit")
        self.vary = make("&Vary", None, "vary",
                         "Another version of the active take: its first half kept, the rest "
                         "drawn anew (the Takes panel picks the step and how much is new)")
        self.extend = make("E&xtend…", None, "extend", "Continue the section past its end")
        self.retake = make("Re&take ×4", None, "retake",
                           "Four new takes with new seeds, same everything else")
        self.import_audio = make("&Import Audio…", "Ctrl+I", "open",
                                 "Bring a recording into the section as a take, to repaint, "
                                 "extend or vary like a render")
        self.cancel_jobs = make("&Cancel All Jobs", None, "cancel", "Stop every queued render")
        # Help
        self.open_demo = make("Open &Demo Song", None, "open",
                              "A planned song to start from (opens as an unsaved copy)")
        self.shortcuts = make("&Keyboard Shortcuts", "Ctrl+/", None, "Every shortcut at a glance")
        self.about = make("&About Melodex Studio", None, None, "Version and credits")
        self.about.setMenuRole(QAction.MenuRole.AboutRole)

    def _make(self, text: str, shortcut: Shortcut, icon_name: str | None, tip: str) -> QAction:
        action = QAction(text, self.parent())
        if icon_name:
            action.setIcon(icon(icon_name))
            action.setProperty("iconName", icon_name)
        if isinstance(shortcut, list):
            action.setShortcuts([QKeySequence(s) for s in shortcut])
        elif isinstance(shortcut, str):
            action.setShortcut(QKeySequence(shortcut))
        elif shortcut is not None:
            action.setShortcuts(shortcut)
        keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        action.setToolTip(f"{tip} ({keys})" if keys else tip)
        action.setStatusTip(tip)
        action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
        self._all.append(action)
        return action

    def all_actions(self) -> list[QAction]:
        return list(self._all)

    def refresh_icons(self) -> None:
        """Redraw every icon in the current theme's colour (after a theme change)."""
        for action in self._all:
            name = action.property("iconName")
            if name:
                action.setIcon(icon(name))

    def generation_actions(self) -> list[QAction]:
        return [self.plan, self.generate, self.regenerate, self.repaint, self.vary, self.extend,
                self.retake, self.import_audio]
