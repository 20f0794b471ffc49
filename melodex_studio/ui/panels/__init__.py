"""Docked panels of the studio window: inspector, takes, plan editor, job queue."""
