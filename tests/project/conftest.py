"""Fixtures for the project tests: a small song, its document and an event recorder."""

from __future__ import annotations

import pytest
from project_builders import Recorder, song

from melodex_studio.project.document import Document
from melodex_studio.project.models import Project


@pytest.fixture
def project() -> Project:
    return song()


@pytest.fixture
def document(project: Project) -> Document:
    return Document(project)


@pytest.fixture
def recorder(document: Document) -> Recorder:
    return Recorder(document)
