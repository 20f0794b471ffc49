"""Random plan-token sequences the plan grammar accepts: the structure transformer's and the
MIDI round trip's tests draw from the same generator."""

from __future__ import annotations

import numpy as np

from melodex_studio.engine import plan_tokens as pt


def random_valid_tokens(seed: int, steps: int, n_bars: int, quiet: float = 0.6) -> list[int]:
    """A random token sequence the grammar accepts; a bass or melody step rests or holds with
    probability about `quiet` (real parts leave most steps empty)."""
    rng = np.random.default_rng(seed)
    grammar = pt.PlanGrammar(steps)
    tokens = []
    for _ in range(n_bars * pt.tokens_per_bar(steps)):
        allowed = np.flatnonzero(grammar.allowed())
        kind = grammar.expected_type()
        if kind in (pt.TokenType.BASS, pt.TokenType.MELODY) and rng.random() < quiet:
            offset = pt.TYPE_OFFSETS[kind]
            allowed = np.asarray([i for i in allowed if i - offset in (pt.NOTE_REST, pt.NOTE_HOLD)])
        token = int(rng.choice(allowed))
        grammar.feed(token)
        tokens.append(token)
    return tokens
