"""Moving a plan into another key, as a musician expects when a song or a section changes key.

A plan's bass and melody are scale degrees, so they follow any key by themselves; its chords
are absolute symbols ("Am7"), so they must be moved with them, or a key change leaves the
chords in the old key over a bass line in the new one. The rule keeps the plan's shape:

- a chord root (and a slash bass) on a degree of the old scale goes to the same degree of the
  new one; a chromatic one moves by the distance between the tonics;
- a chord that is the old key's diatonic triad or seventh chord on its degree becomes the new
  key's on that degree (Am7, i7 in A minor, is Amaj7 in A major and Bm7 in B minor); any other
  quality (sus, power chord, a borrowed V7) is kept.

Within one mode this is plain transposition. Between modes the plan keeps its degrees: a vi-IV-I-V
song in C major moved to C minor plays VI-iv-i-v there, which is what its bass line already does.
"""

from __future__ import annotations

from melodex_studio.music.chord import Chord
from melodex_studio.music.key import Key
from melodex_studio.music.plan import Plan


def pitch_class_in_key(pitch_class: int, old: Key, new: Key) -> int:
    """A pitch class moved from `old` to `new`: by scale degree when it is in the old scale,
    else by the distance between the tonics."""
    degree = old.pitch_class_to_degree(pitch_class)
    if degree is not None:
        return new.degree_to_pitch_class(degree)
    return (pitch_class + new.tonic - old.tonic) % 12


def chord_in_key(chord: Chord, old: Key, new: Key) -> Chord:
    """`chord` moved from `old` to `new` (see the module text)."""
    if old == new:
        return chord
    bass = None if chord.bass is None else pitch_class_in_key(chord.bass, old, new)
    degree = old.pitch_class_to_degree(chord.root)
    if degree is not None:
        plain = Chord(chord.root, chord.quality)
        for seventh in (False, True):
            if _diatonic(old, degree, seventh) == plain:
                diatonic = _diatonic(new, degree, seventh)
                if diatonic is not None:
                    return diatonic.with_bass(bass)
    return Chord(pitch_class_in_key(chord.root, old, new), chord.quality, bass)


def plan_in_key(plan: Plan, old: Key, new: Key) -> Plan:
    """`plan` with every chord moved from `old` to `new`; notes, drums, energy and locks stay
    (the degrees already follow the key). The same plan object when the keys are equal."""
    if old == new:
        return plan
    bars = tuple(
        bar
        if bar.chord is None
        else bar.model_copy(update={"chord": str(chord_in_key(Chord.parse(bar.chord), old, new))})
        for bar in plan.bars
    )
    return plan.model_copy(update={"bars": bars})


def _diatonic(key: Key, degree: int, seventh: bool) -> Chord | None:
    try:
        return Chord.from_degree(key, degree, seventh)
    except ValueError:  # a degree whose stacked thirds name no chord quality we know
        return None
