"""The document: pydantic models with change events, edit commands and history. Pure Python.

Models: `melodex_studio.project.models`; events: `.events`; commands: `.commands`;
the open document and its undo history: `.document`, `.history`.
"""
