"""Render a whole section until it is heard in its key: listen, and render again if not.

A plan the planner's ear hears in the asked key can still come out of the renderer in a
neighbouring one (the relative major, the parallel major over a power-chord tonic), and which
one depends on the seed. So a whole-section render is decoded, listened to
(`engine.audio_key.heard_key`) and, when it is heard in another key, rendered again from the
next seed of `retry_seed`, up to `retries` more times. The first render heard in the key is
kept; when none is, the one heard closest to it (`audio_key.key_margin`). Everything is a
function of the inputs: the same seed and settings give the same attempts and the same take,
and the kept seed is the take's seed, so the take re-renders exactly from its record.

Only whole sections are listened to: a repaint of two bars says little about a key, and a
re-run from a take's recorded noise or a locked seed must come out as it was.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Generic, TypeVar

import numpy as np

from melodex_studio.engine.audio_key import key_correlations, key_from_correlations, key_margin
from melodex_studio.music.key import Key

DEFAULT_KEY_RETRIES = 3  # renders after the first, at most (the studio's default)
MAX_SEED = 2**63 - 1
Result = TypeVar("Result")


def retry_seed(seed: int, attempt: int) -> int:
    """The seed of render `attempt` (0 = the asked seed itself) of a section seeded `seed`."""
    if attempt == 0:
        return seed
    digest = hashlib.sha256(f"melodex-key-retry:{seed}:{attempt}".encode()).digest()
    return int.from_bytes(digest[:8], "big") & MAX_SEED


@dataclass(frozen=True)
class HeardRender(Generic[Result]):
    """The kept render, its audio and seed, the key it was heard in (None: no pitch content),
    whether that is the asked key, and how many renders were made."""

    result: Result
    audio: np.ndarray
    seed: int
    heard: Key | None
    in_key: bool
    attempts: int


def render_in_key(
    render: Callable[[int], Result],
    audio_of: Callable[[Result], np.ndarray],
    key: Key,
    sample_rate: int,
    seed: int,
    retries: int = DEFAULT_KEY_RETRIES,
) -> HeardRender[Result]:
    """`render(seed)` then `audio_of(result)`, again from `retry_seed(seed, 1..retries)` while
    the audio is heard in another key than `key`."""
    if retries < 0:
        raise ValueError(f"retries must be 0 or more, got {retries}")
    closest: HeardRender[Result] | None = None
    closest_margin = -np.inf
    for attempt in range(retries + 1):
        attempt_seed = retry_seed(seed, attempt)
        result = render(attempt_seed)
        audio = audio_of(result)
        correlations = key_correlations(audio, sample_rate)
        heard = key_from_correlations(correlations)
        if heard == key:
            return HeardRender(result, audio, attempt_seed, heard, True, attempt + 1)
        margin = key_margin(correlations, key)
        if closest is None or margin > closest_margin:  # ties keep the earlier render
            closest = HeardRender(result, audio, attempt_seed, heard, False, 1)
            closest_margin = margin
    assert closest is not None
    return replace(closest, attempts=retries + 1)
