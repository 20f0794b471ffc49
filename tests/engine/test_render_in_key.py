"""A whole-section render is listened to and rendered again from a new seed when off key."""

from __future__ import annotations

import numpy as np
import pytest
from cadences import RATE, progression

from melodex_studio.engine.audio_key import key_correlations, key_margin
from melodex_studio.engine.pipelines.render_in_key import render_in_key, retry_seed
from melodex_studio.music.key import Key

A_MINOR, A_MAJOR = Key(9, "minor"), Key(9, "major")


def _renders(heard_by_attempt: list[Key]) -> tuple[list[int], object, object]:
    """A render that returns its seed, and audio in the key of that seed's attempt."""
    seeds: list[int] = []
    audio = {key: progression(key.tonic, key.mode == "minor") for key in set(heard_by_attempt)}

    def render(seed: int) -> int:
        seeds.append(seed)
        return seed

    def audio_of(seed: int) -> np.ndarray:
        return audio[heard_by_attempt[seeds.index(seed)]]

    return seeds, render, audio_of


def test_retry_seeds_are_the_seed_first_then_distinct_and_repeatable() -> None:
    assert retry_seed(1234, 0) == 1234
    later = [retry_seed(1234, attempt) for attempt in range(1, 6)]
    assert len(set(later)) == 5 and 1234 not in later
    assert later == [retry_seed(1234, attempt) for attempt in range(1, 6)]
    assert all(0 <= seed < 2**63 for seed in later)
    assert retry_seed(1235, 1) != retry_seed(1234, 1)


def test_a_render_heard_in_key_is_kept_at_once() -> None:
    seeds, render, audio_of = _renders([A_MINOR, A_MINOR])
    heard = render_in_key(render, audio_of, A_MINOR, RATE, seed=7, retries=3)
    assert seeds == [7]
    assert (heard.result, heard.seed, heard.attempts, heard.in_key) == (7, 7, 1, True)
    assert heard.heard == A_MINOR


def test_a_render_heard_off_key_is_rendered_again_until_in_key() -> None:
    seeds, render, audio_of = _renders([A_MAJOR, A_MAJOR, A_MINOR, A_MINOR])
    heard = render_in_key(render, audio_of, A_MINOR, RATE, seed=7, retries=3)
    assert seeds == [7, retry_seed(7, 1), retry_seed(7, 2)]
    assert heard.seed == heard.result == retry_seed(7, 2)
    assert (heard.attempts, heard.in_key, heard.heard) == (3, True, A_MINOR)


def test_when_no_render_is_heard_in_key_the_closest_is_kept() -> None:
    far, near = Key.parse("F# major"), Key.parse("C major")  # C major: A minor's relative
    seeds, render, audio_of = _renders([far, near, far])
    heard = render_in_key(render, audio_of, A_MINOR, RATE, seed=7, retries=2)
    assert len(seeds) == 3
    assert heard.seed == heard.result == retry_seed(7, 1)
    assert (heard.attempts, heard.in_key, heard.heard) == (3, False, near)
    np.testing.assert_array_equal(heard.audio, audio_of(retry_seed(7, 1)))
    # Equally far renders keep the earliest: the asked seed itself.
    seeds, render, audio_of = _renders([A_MAJOR] * 3)
    assert render_in_key(render, audio_of, A_MINOR, RATE, seed=7, retries=2).seed == 7


def test_margin_says_how_clearly_a_key_is_heard() -> None:
    correlations = key_correlations(progression(9, True), RATE)
    assert key_margin(correlations, A_MINOR) > 0 > key_margin(correlations, A_MAJOR)


def test_no_retries_renders_once_and_negative_retries_are_refused() -> None:
    seeds, render, audio_of = _renders([A_MAJOR, A_MINOR])
    assert render_in_key(render, audio_of, A_MINOR, RATE, seed=3, retries=0).attempts == 1
    assert seeds == [3]
    with pytest.raises(ValueError, match="retries"):
        render_in_key(render, audio_of, A_MINOR, RATE, seed=3, retries=-1)
