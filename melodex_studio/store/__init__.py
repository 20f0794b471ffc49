"""The .mlx project file: SQLite schema, save/open, migrations, autosave journal, recovery."""
