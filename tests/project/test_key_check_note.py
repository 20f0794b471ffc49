"""The status line after a render says what listening for the key did, and only when it did
something worth saying."""

from __future__ import annotations

from melodex_studio.project.operations.finish import key_check_note
from melodex_studio.worker.jobs import RenderedCandidate

BLOB = "0" * 64


def _candidate(heard: str | None, renders: int = 1) -> RenderedCandidate:
    return RenderedCandidate(seed=1, noise=BLOB, checkpoints=(), final_latent=BLOB,
                             heard_key=heard, renders=renders)


def test_nothing_is_said_when_nothing_was_listened_to_or_it_was_in_key_at_once() -> None:
    assert key_check_note((_candidate(None),), "A minor") == ""
    assert key_check_note((_candidate("A minor"),), "A minor") == ""


def test_retries_and_misses_are_reported() -> None:
    assert key_check_note((_candidate("A minor", 3),), "A minor") == \
        "heard in A minor after 3 renders"
    assert key_check_note((_candidate("C major", 4),), "A minor") == \
        "heard in C major, not A minor, after 4 renders"
    assert key_check_note((_candidate("", 2), _candidate("A minor")), "A minor") == \
        "heard in no clear key, not A minor, after 2 renders"
