"""Derived random generators: every draw in the corpus comes from (seed, tags), never global state.

Tags name what a generator is for ("drums", "melody", a bar index), so adding a new random
choice in one part never shifts the draws of another part, and the same example always comes
out the same.
"""

from __future__ import annotations

import zlib

import numpy as np


def _tag_value(tag: int | str) -> int:
    if isinstance(tag, str):
        return zlib.crc32(tag.encode("utf-8"))  # stable across runs, unlike hash()
    if tag < 0:
        raise ValueError(f"seed tags must not be negative, got {tag}")
    return int(tag)


def rng_for(seed: int, *tags: int | str) -> np.random.Generator:
    """A generator determined by `seed` and `tags` alone."""
    if seed < 0:
        raise ValueError(f"seed must not be negative, got {seed}")
    entropy = [int(seed), *(_tag_value(tag) for tag in tags)]
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(entropy)))


def derive_seed(seed: int, *tags: int | str) -> int:
    """A 63-bit child seed, for handing on to another seeded function."""
    return int(rng_for(seed, *tags).integers(0, 2**63 - 1))


def pick(rng: np.random.Generator, options: tuple | list, weights: tuple | list | None = None):
    """One element of `options` (uniform, or by relative `weights`)."""
    if not options:
        raise ValueError("nothing to pick from")
    if weights is None:
        return options[int(rng.integers(len(options)))]
    probabilities = np.asarray(weights, dtype=np.float64)
    probabilities = probabilities / probabilities.sum()
    return options[int(rng.choice(len(options), p=probabilities))]
