"""Plan <-> token sequences for the structure transformer, and the grammar of those sequences.

Layout of one bar (``tokens_per_bar(steps) = 5 + 4 * steps`` tokens)::

    BAR  CHORD CHORD_BASS ENERGY DENSITY  | DRUM_A DRUM_B BASS MELODY | ... one group per 16th

Every position has exactly one token type, so the grammar is a small state machine
(`PlanGrammar`) and constrained decoding always yields a valid `Plan`.

Design choices:
- Chords and their slash bass are written *relative to the key's tonic* (root - tonic mod 12),
  like the scale-degree notes, so the model learns harmony once for all 12 transpositions.
- The 10-voice drum mask (1024 values) is factored into two exact 5-bit tokens: DRUM_A holds the
  groove core (kick, snare, closed hat, open hat, clap), DRUM_B the colours (toms, crash, ride,
  percussion). Every mask is representable (no fallback class), each softmax has only 32 entries,
  and DRUM_B is predicted after DRUM_A so the model still sees their correlation.
- Bass and melody are monophonic per step: REST, HOLD (the note sounding continues) or the ONSET
  of a scale degree in ``NOTE_DEGREE_MIN..NOTE_DEGREE_MAX`` (three octaves). A note's length is
  its onset plus the HOLDs after it, so notes ring across bar lines naturally.
- Energy and density are quantised to ``LEVELS`` steps (0.0, 0.1, ..., 1.0).

A plan is *in the vocabulary* (``decode_plan(encode_plan(p)) == p``) when its energies and
densities lie on the level grid, its note degrees are in range, each part's notes are sorted by
step and do not overlap (also across bars), every note ends within the plan, and no bar is
locked (locking is an editor flag, not part of the music). Other plans encode to their nearest
in-vocabulary neighbour (`quantize_plan`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum
from functools import lru_cache

import numpy as np

from melodex_studio.music.chord import CHORD_VOCAB_SIZE, Chord
from melodex_studio.music.key import Key, Mode
from melodex_studio.music.meter import Meter
from melodex_studio.music.plan import Plan, PlanBar, PlanNote

NOTE_DEGREE_MIN = -7
NOTE_DEGREE_MAX = 14
MAX_NOTE_STEPS = 128  # PlanNote.length's upper bound
LEVELS = 11  # energy and density levels 0.0, 0.1, ..., 1.0
DRUM_GROUP_BITS = 5
DRUM_GROUP_SIZE = 1 << DRUM_GROUP_BITS

NOTE_REST = 0
NOTE_HOLD = 1
NOTE_FIRST_ONSET = 2
NOTE_VALUES = NOTE_FIRST_ONSET + NOTE_DEGREE_MAX - NOTE_DEGREE_MIN + 1


class TokenType(IntEnum):
    PAD = 0
    BAR = 1
    CHORD = 2
    CHORD_BASS = 3
    ENERGY = 4
    DENSITY = 5
    DRUM_A = 6
    DRUM_B = 7
    BASS = 8
    MELODY = 9


#: How many values each token type has; ids are laid out type after type in this order.
TYPE_SIZES: dict[TokenType, int] = {
    TokenType.PAD: 1,
    TokenType.BAR: 1,
    TokenType.CHORD: 1 + CHORD_VOCAB_SIZE,  # value 0 = no chord
    TokenType.CHORD_BASS: 13,  # value 0 = no slash bass, 1 + relative pitch class
    TokenType.ENERGY: LEVELS,
    TokenType.DENSITY: LEVELS,
    TokenType.DRUM_A: DRUM_GROUP_SIZE,
    TokenType.DRUM_B: DRUM_GROUP_SIZE,
    TokenType.BASS: NOTE_VALUES,
    TokenType.MELODY: NOTE_VALUES,
}
TYPE_OFFSETS: dict[TokenType, int] = {}
_next_offset = 0
for _type in TokenType:
    TYPE_OFFSETS[_type] = _next_offset
    _next_offset += TYPE_SIZES[_type]
VOCAB_SIZE = _next_offset
PAD_ID = TYPE_OFFSETS[TokenType.PAD]
BAR_ID = TYPE_OFFSETS[TokenType.BAR]

HEADER_SLOTS = (TokenType.CHORD, TokenType.CHORD_BASS, TokenType.ENERGY, TokenType.DENSITY)
STEP_SLOTS = (TokenType.DRUM_A, TokenType.DRUM_B, TokenType.BASS, TokenType.MELODY)
GROUP_SIZE = 4
PARTS = ("bass", "melody")

_ID_TYPES = np.concatenate([np.full(TYPE_SIZES[t], int(t), dtype=np.int64) for t in TokenType])


def token_id(kind: TokenType, value: int) -> int:
    if not 0 <= value < TYPE_SIZES[kind]:
        raise ValueError(f"{kind.name} value {value} is outside 0..{TYPE_SIZES[kind] - 1}")
    return TYPE_OFFSETS[kind] + value


def token_type(token: int) -> TokenType:
    if not 0 <= token < VOCAB_SIZE:
        raise ValueError(f"token {token} is outside the vocabulary 0..{VOCAB_SIZE - 1}")
    return TokenType(int(_ID_TYPES[token]))


def token_value(token: int) -> int:
    return token - TYPE_OFFSETS[token_type(token)]


def tokens_per_bar(steps_per_bar: int) -> int:
    return 1 + len(HEADER_SLOTS) + GROUP_SIZE * steps_per_bar


def level_of(value: float) -> int:
    """Nearest of the `LEVELS` grid points 0.0, 0.1, ..., 1.0 (for energy, density)."""
    return min(LEVELS - 1, max(0, round(float(value) * (LEVELS - 1))))


def level_value(level: int) -> float:
    return level / (LEVELS - 1)


def fold_degree(degree: int) -> int:
    """Move a degree by octaves (7 degrees) into the token range."""
    while degree < NOTE_DEGREE_MIN:
        degree += 7
    while degree > NOTE_DEGREE_MAX:
        degree -= 7
    return degree


# --- prefix vocabularies (conditioning ids shared by the structure model and the renderer) -----

SECTION_KINDS = (
    "custom",
    "intro",
    "verse",
    "pre_chorus",
    "chorus",
    "bridge",
    "breakdown",
    "drop",
    "outro",
)
KNOWN_METERS = ("4/4", "3/4", "6/8", "5/4", "7/8", "2/4", "12/8", "9/8", "2/2", "6/4", "5/8", "7/4")
N_METER_IDS = len(KNOWN_METERS) + 1  # the last id is "another meter"
TEMPO_BUCKETS = 32
TEMPO_BUCKET_MIN_BPM = 40.0
TEMPO_BUCKET_MAX_BPM = 240.0


def section_kind_id(kind: str) -> int:
    """Index in `SECTION_KINDS`; unknown kinds are "custom" (0)."""
    text = str(kind).strip().lower().replace("-", "_").replace(" ", "_")
    return SECTION_KINDS.index(text) if text in SECTION_KINDS else 0


def meter_id(meter: Meter) -> int:
    text = str(meter)
    return KNOWN_METERS.index(text) if text in KNOWN_METERS else len(KNOWN_METERS)


def tempo_bucket(bpm: float) -> int:
    """Log-spaced tempo bucket: equal ratios of tempo are equal steps (as musicians hear it)."""
    lo, hi = np.log2(TEMPO_BUCKET_MIN_BPM), np.log2(TEMPO_BUCKET_MAX_BPM)
    position = (np.log2(max(float(bpm), 1e-3)) - lo) / (hi - lo)
    return int(min(TEMPO_BUCKETS - 1, max(0, np.floor(position * TEMPO_BUCKETS))))


# --- encoding ------------------------------------------------------------------------------------


def _part_notes(bar: PlanBar, part: str) -> tuple[PlanNote, ...]:
    return bar.bass if part == "bass" else bar.melody


def _part_track(plan: Plan, part: str) -> tuple[list[int], list[int]]:
    """Per 16th step of the whole plan: the note value (REST/HOLD/onset) and the index of the
    bar whose note covers the step (-1 for a rest). A later onset cuts an earlier note short."""
    steps = plan.steps_per_bar
    total = plan.n_bars * steps
    onsets: list[tuple[int, int, int, int]] = []  # (start, bar, length, degree)
    for index, bar in enumerate(plan.bars):
        for note in _part_notes(bar, part):
            onsets.append((index * steps + note.step, index, note.length, note.degree))
    onsets.sort()
    values = [NOTE_REST] * total
    owners = [-1] * total
    for position, (start, bar_index, length, degree) in enumerate(onsets):
        following = [s for s, *_ in onsets[position + 1 :] if s > start]
        end = min(start + length, total, following[0] if following else total)
        values[start] = NOTE_FIRST_ONSET + fold_degree(degree) - NOTE_DEGREE_MIN
        owners[start] = bar_index
        for step in range(start + 1, end):
            values[step] = NOTE_HOLD
            owners[step] = bar_index
        # Notes sharing an onset: the last one (by degree) wins, the earlier ones vanish.
    return values, owners


def _chord_values(chord_text: str | None, key: Key) -> tuple[int, int]:
    if chord_text is None:
        return 0, 0
    chord = Chord.parse(chord_text)
    relative = Chord((chord.root - key.tonic) % 12, chord.quality)
    bass = 0 if chord.bass is None else 1 + (chord.bass - key.tonic) % 12
    return 1 + relative.token, bass


def encode_plan(plan: Plan, key: Key) -> list[int]:
    """The flat token sequence of `plan` in `key` (see the module docstring for the layout)."""
    steps = plan.steps_per_bar
    tracks = {part: _part_track(plan, part)[0] for part in PARTS}
    tokens: list[int] = []
    for index, bar in enumerate(plan.bars):
        chord, chord_bass = _chord_values(bar.chord, key)
        tokens += [
            BAR_ID,
            token_id(TokenType.CHORD, chord),
            token_id(TokenType.CHORD_BASS, chord_bass),
            token_id(TokenType.ENERGY, level_of(bar.energy)),
            token_id(TokenType.DENSITY, level_of(bar.density)),
        ]
        for step in range(steps):
            mask = bar.drums[step]
            position = index * steps + step
            tokens += [
                token_id(TokenType.DRUM_A, mask & (DRUM_GROUP_SIZE - 1)),
                token_id(TokenType.DRUM_B, mask >> DRUM_GROUP_BITS),
                token_id(TokenType.BASS, tracks["bass"][position]),
                token_id(TokenType.MELODY, tracks["melody"][position]),
            ]
    return tokens


# --- grammar -------------------------------------------------------------------------------------


@lru_cache(maxsize=64)
def _allowed_mask(kind: TokenType, hold_ok: bool = False, chord_root: int = -1) -> np.ndarray:
    mask = np.zeros(VOCAB_SIZE, dtype=bool)
    offset = TYPE_OFFSETS[kind]
    mask[offset : offset + TYPE_SIZES[kind]] = True
    if kind in (TokenType.BASS, TokenType.MELODY) and not hold_ok:
        mask[offset + NOTE_HOLD] = False
    if kind is TokenType.CHORD_BASS:
        if chord_root < 0:  # no chord, no slash bass
            mask[offset + 1 : offset + TYPE_SIZES[kind]] = False
        else:  # a bass equal to the root is spelled "no slash bass"
            mask[offset + 1 + chord_root] = False
    mask.setflags(write=False)
    return mask


@lru_cache(maxsize=2)
def tonic_mode_mask(mode: Mode) -> np.ndarray | None:
    """Which chord values (over the CHORD slice, 0 = no chord) the model may write on the
    tonic of a key in `mode`, or None for no limit. In a minor key no chord on the tonic has a
    major third: sections asked in a minor key were planned on their parallel major (E minor
    written as E5 B C#m A) and then heard in it. Thirdless tonic chords (power, sus) and every
    other degree stay free. Major keys have no limit: forbidding a minor tonic there changed
    no plan's key (87 of 96 major-key plans read in their key either way)."""
    if mode is Mode.MAJOR:
        return None
    mask = np.ones(TYPE_SIZES[TokenType.CHORD], dtype=bool)
    for value in range(1, len(mask)):
        chord = Chord.from_token(value - 1)
        if chord.root == 0 and 4 in chord.intervals:
            mask[value] = False
    mask.setflags(write=False)
    return mask


class PlanGrammar:
    """Which tokens may come next. Feed tokens one by one; `allowed()` is a read-only boolean
    mask over the vocabulary. HOLD is valid only while a note sounds and is shorter than
    `MAX_NOTE_STEPS`; a slash bass needs a chord and must differ from its root."""

    def __init__(self, steps_per_bar: int) -> None:
        self.steps_per_bar = steps_per_bar
        self.bar_length = tokens_per_bar(steps_per_bar)
        self.position = 0
        self._runs = {TokenType.BASS: 0, TokenType.MELODY: 0}
        self._chord_root = -1

    @property
    def bars_done(self) -> int:
        return self.position // self.bar_length

    @property
    def at_bar_start(self) -> bool:
        return self.position % self.bar_length == 0

    def expected_type(self) -> TokenType:
        offset = self.position % self.bar_length
        if offset == 0:
            return TokenType.BAR
        if offset <= len(HEADER_SLOTS):
            return HEADER_SLOTS[offset - 1]
        return STEP_SLOTS[(offset - 1 - len(HEADER_SLOTS)) % GROUP_SIZE]

    def allowed(self) -> np.ndarray:
        kind = self.expected_type()
        if kind in self._runs:
            return _allowed_mask(kind, hold_ok=0 < self._runs[kind] < MAX_NOTE_STEPS)
        if kind is TokenType.CHORD_BASS:
            return _allowed_mask(kind, chord_root=self._chord_root)
        return _allowed_mask(kind)

    def feed(self, token: int, checked: bool = False) -> None:
        """Advance by `token`. `checked` says the caller took it from `allowed()` already (the
        sampler, eight rows a token), so the test is not made twice."""
        token = int(token)
        if not checked and not (0 <= token < VOCAB_SIZE and self.allowed()[token]):
            raise ValueError(
                f"token {token} is not valid at position {self.position} "
                f"(expected {self.expected_type().name})"
            )
        kind = self.expected_type()
        value = token - TYPE_OFFSETS[kind]
        if kind in self._runs:
            self._runs[kind] = 0 if value == NOTE_REST else self._runs[kind] + 1
            if value >= NOTE_FIRST_ONSET:
                self._runs[kind] = 1
        elif kind is TokenType.CHORD:
            self._chord_root = -1 if value == 0 else Chord.from_token(value - 1).root
        self.position += 1


# --- decoding ------------------------------------------------------------------------------------


def decode_plan(tokens: Sequence[int], key: Key, steps_per_bar: int) -> Plan:
    """The plan a token sequence describes. Raises ValueError for sequences the grammar rejects
    or that do not end on a bar line."""
    grammar = PlanGrammar(steps_per_bar)
    for token in tokens:
        grammar.feed(token)
    bar_length = grammar.bar_length
    if not tokens or len(tokens) % bar_length:
        raise ValueError(f"{len(tokens)} tokens are not whole bars of {bar_length} tokens")
    n_bars = len(tokens) // bar_length
    notes: dict[str, list[list[list[int]]]] = {part: [[] for _ in range(n_bars)] for part in PARTS}
    open_note: dict[str, list[int] | None] = dict.fromkeys(PARTS)
    headers: list[tuple[str | None, float, float]] = []
    drums: list[list[int]] = []
    for bar_index in range(n_bars):
        start = bar_index * bar_length
        bar = [token_value(t) for t in tokens[start : start + bar_length]]
        chord, chord_bass, energy, density = bar[1:5]
        symbol = _chord_symbol(chord, chord_bass, key)
        headers.append((symbol, level_value(energy), level_value(density)))
        drums.append([])
        for step in range(steps_per_bar):
            drum_a, drum_b, *part_values = bar[5 + GROUP_SIZE * step :][:GROUP_SIZE]
            drums[-1].append(drum_a | (drum_b << DRUM_GROUP_BITS))
            for part, value in zip(PARTS, part_values, strict=True):
                current = open_note[part]
                if value == NOTE_HOLD and current is not None:
                    current[1] += 1
                elif value >= NOTE_FIRST_ONSET:
                    current = [step, 1, value - NOTE_FIRST_ONSET + NOTE_DEGREE_MIN]
                    notes[part][bar_index].append(current)
                    open_note[part] = current
                else:
                    open_note[part] = None
    bars = []
    for bar_index, (chord_symbol, energy, density) in enumerate(headers):
        parts = {part: tuple(_note(*values) for values in notes[part][bar_index]) for part in PARTS}
        bars.append(
            PlanBar(
                chord=chord_symbol,
                energy=energy,
                density=density,
                drums=tuple(drums[bar_index]),
                **parts,
            )
        )
    return Plan(steps_per_bar=steps_per_bar, bars=tuple(bars))


def _note(step: int, length: int, degree: int) -> PlanNote:
    return PlanNote(step=step, length=length, degree=degree)


def _chord_symbol(chord_value: int, bass_value: int, key: Key) -> str | None:
    if chord_value == 0:
        return None
    relative = Chord.from_token(chord_value - 1)
    bass = None if bass_value == 0 else (bass_value - 1 + key.tonic) % 12
    return Chord((relative.root + key.tonic) % 12, relative.quality, bass).symbol


def quantize_plan(plan: Plan, key: Key) -> Plan:
    """The nearest plan inside the token vocabulary (what the model would see of `plan`)."""
    return decode_plan(encode_plan(plan, key), key, plan.steps_per_bar)


# --- groups for the model and constraints for locked bars ------------------------------------


@dataclass(frozen=True)
class TokenGroups:
    """A flat sequence regrouped for the model: one row per model position, `group_width`
    tokens wide. A bar's header row holds its 4 header tokens (the BAR marker is implied); each
    following row holds `steps_per_group` consecutive 16th steps of 4 tokens. Slots past the
    end of the tokens a row holds are PAD (a header row of a two-step model, the last row of a
    bar with an odd number of steps). `kinds` is 0 for a header and 1 + group index for the
    steps; `bars` is the bar index of each row."""

    tokens: np.ndarray  # [G, width] int64
    kinds: np.ndarray  # [G] int64
    bars: np.ndarray  # [G] int64


HEADER_KIND = 0


def group_kind_count(max_steps_per_bar: int = 32) -> int:
    return 1 + max_steps_per_bar


def group_width(steps_per_group: int = 1) -> int:
    """Tokens per model position: a 16th step has `GROUP_SIZE` tokens."""
    if steps_per_group < 1:
        raise ValueError(f"steps_per_group must be at least 1, got {steps_per_group}")
    return GROUP_SIZE * steps_per_group


def group_slot_counts(steps_per_bar: int, steps_per_group: int = 1) -> list[int]:
    """How many real (non-PAD) tokens each row of a bar holds: the header's, then each step
    group's. Sampling walks these; the rest of a row is PAD."""
    counts = [len(HEADER_SLOTS)]
    for group in range(-(-steps_per_bar // steps_per_group)):  # the last may be short
        steps = min(steps_per_group, steps_per_bar - group * steps_per_group)
        counts.append(GROUP_SIZE * steps)
    return counts


def to_groups(tokens: Sequence[int], steps_per_bar: int, steps_per_group: int = 1) -> TokenGroups:
    bar_length = tokens_per_bar(steps_per_bar)
    if len(tokens) % bar_length:
        raise ValueError(f"{len(tokens)} tokens are not whole bars of {bar_length} tokens")
    flat = np.asarray(tokens, dtype=np.int64).reshape(-1, bar_length)
    if flat.size and not np.all(flat[:, 0] == BAR_ID):
        raise ValueError("every bar must start with the BAR token")
    width = group_width(steps_per_group)
    counts = group_slot_counts(steps_per_bar, steps_per_group)
    n_bars = flat.shape[0]
    rows = np.full((n_bars, len(counts), width), PAD_ID, dtype=np.int64)
    begin = 1
    for row, count in enumerate(counts):
        rows[:, row, :count] = flat[:, begin : begin + count]
        begin += count
    kinds = np.tile(np.arange(len(counts), dtype=np.int64), n_bars)
    bars = np.repeat(np.arange(n_bars, dtype=np.int64), len(counts))
    return TokenGroups(rows.reshape(-1, width), kinds, bars)


#: Per flat position: None (free), or the set of token ids allowed there (one id = forced).
Restrictions = list[frozenset[int] | None]


def lock_restrictions(template: Plan, key: Key) -> Restrictions:
    """What sampling may write at each flat position when the template's locked bars must stay.

    Locked bars are teacher-forced: their header and drum tokens, and every step covered by a
    note that starts in a locked bar (also its tail ringing into the next, unlocked bar). A step
    of a locked bar not covered by a locked note may hold a note ringing in from a re-planned bar
    (REST or HOLD) until the part's first locked note; after a locked note it must rest, and
    the step right after a locked note (in any bar) may not HOLD, so the locked note keeps its
    length.
    """
    steps = template.steps_per_bar
    bar_length = tokens_per_bar(steps)
    tokens = encode_plan(template, key)
    locked = [bar.locked for bar in template.bars]
    restrictions: Restrictions = [None] * len(tokens)
    for index, is_locked in enumerate(locked):
        if not is_locked:
            continue
        base = index * bar_length
        for position in range(base, base + 1 + len(HEADER_SLOTS)):
            restrictions[position] = frozenset({tokens[position]})
        for step in range(steps):
            for slot in (0, 1):
                position = base + 1 + len(HEADER_SLOTS) + GROUP_SIZE * step + slot
                restrictions[position] = frozenset({tokens[position]})
    for part_slot, part in enumerate(PARTS, start=2):
        kind = STEP_SLOTS[part_slot]
        rest, hold = token_id(kind, NOTE_REST), token_id(kind, NOTE_HOLD)
        no_hold = frozenset(range(TYPE_OFFSETS[kind], TYPE_OFFSETS[kind] + TYPE_SIZES[kind])) - {
            hold
        }
        _, owners = _part_track(template, part)
        after_locked_note = in_locked_note = False
        for global_step, owner in enumerate(owners):
            bar_index, step = divmod(global_step, steps)
            position = bar_index * bar_length + 1 + len(HEADER_SLOTS) + GROUP_SIZE * step
            position += part_slot
            if owner >= 0 and locked[owner]:
                restrictions[position] = frozenset({tokens[position]})
                after_locked_note = in_locked_note = True
            elif locked[bar_index]:
                allowed = {rest} if after_locked_note else {rest, hold}
                restrictions[position] = frozenset(allowed)
                in_locked_note = False
            else:
                # Right after a locked note a HOLD would lengthen it: anything else is fine.
                restrictions[position] = no_hold if in_locked_note else None
                after_locked_note = in_locked_note = False
    return restrictions
