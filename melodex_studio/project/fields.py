"""Limits and field types shared by the document models.

The limits are part of the file format: a document that breaks one is refused on open with a
message, so a damaged or hostile .mlx file cannot make the studio allocate without bound.
"""

from __future__ import annotations

import unicodedata
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from melodex_studio.music.key import Key
from melodex_studio.music.meter import Meter

MAX_PROJECT_BARS = 4096
MAX_SECTION_BARS = 512
MAX_SECTIONS = 256
MAX_TAKES_PER_SECTION = 1000
MAX_CHECKPOINTS = 1000
MAX_REPAINT_RANGES = 64
MAX_DENOISING_STEPS = 200
MAX_GUIDANCE = 20.0
MAX_PROMPT_CHARS = 2000
MAX_NAME_CHARS = 64
MAX_TITLE_CHARS = 200
MAX_INSTRUMENTS = 32
MAX_INSTRUMENT_CHARS = 64
MAX_STYLE_CHARS = 128
MAX_MODEL_ID_CHARS = 128
MAX_SEED = 2**63 - 1
MIN_GAIN_DB = -60.0
MAX_GAIN_DB = 12.0
MIN_BPM = 20.0
MAX_BPM = 400.0

SAMPLE_RATES = (22050, 24000, 32000, 44100, 48000)
SUPPORTED_METERS = ("4/4", "3/4", "6/8", "5/4", "7/8")
DEFAULT_MODEL_ID = "melodex-tiny"

M = TypeVar("M", bound=BaseModel)

#: Every document model: immutable (a save thread may hold a snapshot while the UI edits),
#: unknown fields refused (a typo in a file is an error, not silently dropped), no NaN/inf.
FROZEN = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)

_HEX = frozenset("0123456789abcdef")


def _lower_hex(length: int, what: str):
    def check(value: str) -> str:
        if len(value) != length or not set(value) <= _HEX:
            raise ValueError(f"{what} must be {length} lowercase hex digits, got {value[:80]!r}")
        return value

    return check


def _no_control_chars(value: str, *, allow_newlines: bool) -> str:
    for char in value:
        if allow_newlines and char in "\n\t":
            continue
        if unicodedata.category(char) in ("Cc", "Cs"):
            raise ValueError(f"text must not contain control characters (found {char!r})")
    return value


def _single_line(value: str) -> str:
    return _no_control_chars(value, allow_newlines=False)


def _multi_line(value: str) -> str:
    return _no_control_chars(value, allow_newlines=True)


def _as_utc(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("times must be timezone-aware (UTC)")
    return value.astimezone(UTC)


#: sha256 of a blob's bytes as 64 lowercase hex digits: blobs are content-addressed.
BlobRef = Annotated[str, AfterValidator(_lower_hex(64, "a blob ref (sha256)"))]
#: Identity of a project, section or take: uuid4().hex.
EntityId = Annotated[str, AfterValidator(_lower_hex(32, "an id"))]
#: sha256 of the model weights, or "" where the backend cannot say.
WeightsHash = Annotated[
    str, AfterValidator(lambda v: v if v == "" else _lower_hex(64, "a weights hash")(v))
]
Seed = Annotated[int, Field(ge=0, le=MAX_SEED)]
GainDb = Annotated[float, Field(ge=MIN_GAIN_DB, le=MAX_GAIN_DB)]
UtcDatetime = Annotated[datetime, AfterValidator(_as_utc)]
Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_NAME_CHARS),
    AfterValidator(_single_line),
]
Title = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TITLE_CHARS),
    AfterValidator(_single_line),
]
Label = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=MAX_NAME_CHARS),
    AfterValidator(_single_line),
]
Prompt = Annotated[str, StringConstraints(max_length=MAX_PROMPT_CHARS), AfterValidator(_multi_line)]
Style = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_STYLE_CHARS),
    AfterValidator(_single_line),
]
Instrument = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_INSTRUMENT_CHARS),
    AfterValidator(_single_line),
]
ModelId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_MODEL_ID_CHARS),
    AfterValidator(_single_line),
]
#: A key as musicians type it, stored by its canonical name ("f# min" -> "F# minor").
KeyName = Annotated[
    str, StringConstraints(max_length=32), AfterValidator(lambda value: str(Key.parse(value)))
]

def _supported_meter(value: str) -> str:
    canonical = str(Meter.parse(value))
    if canonical not in SUPPORTED_METERS:
        raise ValueError(
            f"meter {canonical} is not supported; use one of {', '.join(SUPPORTED_METERS)}"
        )
    return canonical


#: A meter the studio supports, stored canonically ("3/4").
MeterName = Annotated[str, StringConstraints(max_length=8), AfterValidator(_supported_meter)]
#: A tempo in quarter notes per minute.
Bpm = Annotated[float, Field(ge=MIN_BPM, le=MAX_BPM)]


def absent_if_none(value: object) -> bool:
    """For `Field(exclude_if=...)`: an optional field added in a minor format version is left
    out of the document while unset, so the older format's readers still open the file."""
    return value is None


def new_id() -> str:
    """A fresh id for a project, section or take."""
    return uuid.uuid4().hex


def bar_span(start_bar: int, end_bar: int) -> str:
    """Bars as a musician counts them (from 1, inclusive): 0..8 -> "bars 1-8"."""
    if end_bar - start_bar == 1:
        return f"bar {start_bar + 1}"
    return f"bars {start_bar + 1}-{end_bar}"


def validated_copy(model: M, **changes: Any) -> M:
    """`model_copy(update=...)` that runs validation: edits must never create an invalid value.

    Nested models are passed as instances, which pydantic keeps as they are (no revalidation),
    so unchanged parts are shared with the original, not copied.
    """
    data = {name: getattr(model, name) for name in type(model).model_fields}
    unknown = set(changes) - data.keys()
    if unknown:
        raise ValueError(f"{type(model).__name__} has no field {sorted(unknown)[0]!r}")
    data.update(changes)
    return type(model).model_validate(data)
