"""The document: pydantic models with change events, edit commands and history. Pure Python."""
