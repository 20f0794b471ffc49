"""Dialogs: new project, crash recovery, export, preferences, unsaved changes."""
