"""Small hand-built documents and an event recorder for the project tests."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from melodex_studio.music.plan import Plan
from melodex_studio.project.document import Document
from melodex_studio.project.events import Event, SectionAdded, SectionMoved, SectionRemoved
from melodex_studio.project.models import (
    Checkpoint,
    Project,
    Take,
    TakeOperation,
    new_id,
    new_project,
)

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def ref(label: str) -> str:
    """A valid blob ref named after `label` (sha256 of it)."""
    return hashlib.sha256(label.encode()).hexdigest()


def make_take(
    section_id: str,
    *,
    minutes: int = 0,
    operation: TakeOperation = TakeOperation.GENERATE,
    n_bars: int = 4,
    **fields: object,
) -> Take:
    values: dict[str, object] = {
        "id": new_id(),
        "section_id": section_id,
        "region_start_bar": 0,
        "region_end_bar": n_bars,
        "operation": operation,
        "prompt": "dusty lo-fi keys",
        "noise": ref(f"noise-{minutes}"),
        "checkpoints": (
            Checkpoint(step=6, latent=ref(f"ck6-{minutes}")),
            Checkpoint(step=12, latent=ref(f"ck12-{minutes}")),
        ),
        "final_latent": ref(f"final-{minutes}"),
        "audio": ref(f"audio-{minutes}"),
        "latent_frame_rate": 21.5,
        "audio_sample_rate": 44100,
        "created": T0 + timedelta(minutes=minutes),
    }
    values.update(fields)
    return Take.model_validate(values)


def song() -> Project:
    """Intro 4 bars (planned, two takes, the first active), a 2-bar gap, Verse 8, Chorus 4."""
    project = new_project(
        "Test song", 96, "A minor", "4/4", "Intro:4,Verse:8,Chorus:4", seed=7, created=T0
    )
    intro, verse, chorus = project.sections
    first = make_take(intro.id, minutes=1)
    second = make_take(intro.id, minutes=2, operation=TakeOperation.RETAKE)
    intro = intro.model_validate(
        {
            **dict(intro),
            "plan": Plan.empty(4, 16),
            "takes": (first, second),
            "active_take_id": first.id,
        }
    )
    verse = verse.model_validate({**dict(verse), "start_bar": 6})
    chorus = chorus.model_validate({**dict(chorus), "start_bar": 14})
    return project.with_sections((intro, verse, chorus))


class Recorder:
    """Collects every event a document emits."""

    def __init__(self, document: Document) -> None:
        self.events: list[Event] = []
        document.events.subscribe(None, self.events.append)

    def take(self) -> list[Event]:
        events = list(self.events)
        self.events.clear()
        return events


def apply_events(ids: list[str], events) -> list[str]:
    """A list view maintained only from events, the way a Qt item model is."""
    ids = list(ids)
    for event in events:
        if isinstance(event, SectionRemoved):
            assert ids[event.index] == event.section_id
            del ids[event.index]
        elif isinstance(event, SectionMoved):
            assert ids[event.old_index] == event.section_id
            ids.insert(event.new_index, ids.pop(event.old_index))
        elif isinstance(event, SectionAdded):
            assert event.index <= len(ids)
            ids.insert(event.index, event.section_id)
    return ids
