"""The worker protocol: typed messages between the studio (client) and the worker (server).

Every message is a pydantic model that serialises to JSON; tensors travel beside it as
content-addressed safetensors blobs (`worker.blobs`), never pickled. One message plus its
blobs is an `Envelope`. Two encodings of an envelope:

- a binary frame (`encode_frame`/`decode_frame`) for a local pipe: a small header, the JSON,
  then each blob as (sha256, length, bytes). It is sent with `Connection.send_bytes`, so the
  pipe carries bytes only; nothing on either side unpickles what the other wrote.
- a pure JSON document with base64 blobs (`envelope_to_json`/`envelope_from_json`) for a
  transport that only carries text (a remote worker over a websocket).

No torch here: the studio imports this module without loading the engine.
"""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from melodex_studio.worker.blobs import blob_sha
from melodex_studio.worker.jobs import BlobId, Job, JobOutput, ModelInfo

PROTOCOL_VERSION = 1
MAGIC = b"MLXW"
MAX_JSON_BYTES = 64 << 20
MAX_BLOBS = 8192
MAX_BLOB_BYTES = 1 << 31
MAX_REASON_CHARS = 400

_STRICT = ConfigDict(frozen=True, extra="forbid", allow_inf_nan=False)
JobId = Annotated[str, Field(pattern=r"^[0-9A-Za-z_.:-]{1,64}$")]


class ProtocolError(ValueError):
    """Bytes or text that are not a valid message of this protocol version."""


class Priority(IntEnum):
    """Lower runs first: a preview the musician is waiting to hear beats queued batch work."""

    AUDITION = 0
    INTERACTIVE = 1
    BATCH = 2


class WorkerConfig(BaseModel):
    """How a worker starts: which model, which device, how many CPU threads, whether a GPU
    may compute in bfloat16 (`engine.precision`).

    `model="tiny-random"` builds small randomly initialised networks from `tiny_seed` (tests and
    the CLI's hidden test flag); `"builtin"` loads `model_dir` (default: the shipped model);
    `"stable-audio"` loads Stable Audio Open from the diffusers folder `model_dir`, `"musicgen"`
    MusicGen from the transformers folder `model_dir`.
    """

    model_config = _STRICT

    model: Literal["builtin", "tiny-random", "stable-audio", "musicgen"] = "builtin"
    model_dir: str | None = None
    tiny_seed: int = Field(default=0, ge=0, le=2**31 - 1)
    device: Literal["auto", "cpu", "cuda"] = "auto"
    threads: int = Field(default=0, ge=0, le=256)
    half_precision: bool = True


# --- client -> server ---------------------------------------------------------------------------


class Configure(BaseModel):
    model_config = _STRICT
    type: Literal["configure"] = "configure"
    config: WorkerConfig
    protocol: int = PROTOCOL_VERSION


class SubmitJob(BaseModel):
    model_config = _STRICT
    type: Literal["submit"] = "submit"
    job_id: JobId
    priority: Priority = Priority.INTERACTIVE
    job: Job


class CancelJob(BaseModel):
    model_config = _STRICT
    type: Literal["cancel"] = "cancel"
    job_id: JobId


class RequestStatus(BaseModel):
    model_config = _STRICT
    type: Literal["status_request"] = "status_request"


class Shutdown(BaseModel):
    model_config = _STRICT
    type: Literal["shutdown"] = "shutdown"


# --- server -> client ---------------------------------------------------------------------------


class WorkerState(StrEnum):
    """The worker's state machine: starting -> loading -> idle <-> busy; a crash or a timeout
    goes to restarting (client side) and back to starting; close goes to stopped."""

    STARTING = "starting"
    LOADING = "loading"
    IDLE = "idle"
    BUSY = "busy"
    RESTARTING = "restarting"
    STOPPED = "stopped"
    BROKEN = "broken"


class WorkerStatus(BaseModel):
    model_config = _STRICT
    type: Literal["status"] = "status"
    state: WorkerState
    device: str = ""
    precision: Literal["float32", "bfloat16"] = "float32"
    model: ModelInfo | None = None
    memory_bytes: int = Field(default=0, ge=0)
    threads: int = Field(default=0, ge=0)
    pid: int = Field(default=0, ge=0)
    queued: int = Field(default=0, ge=0)
    running_job: JobId | None = None
    detail: str = Field(default="", max_length=MAX_REASON_CHARS)


class JobStarted(BaseModel):
    model_config = _STRICT
    type: Literal["started"] = "started"
    job_id: JobId


class Progress(BaseModel):
    """Step `step` of `total` is done. `preview_audio` (if any) is a rough decode of the
    current estimate of the clean latent over the job's audio span."""

    model_config = _STRICT
    type: Literal["progress"] = "progress"
    job_id: JobId
    step: int = Field(ge=0)
    total: int = Field(ge=1)
    preview_audio: BlobId | None = None
    preview_sample_rate: int | None = Field(default=None, ge=8000)


class JobResult(BaseModel):
    model_config = _STRICT
    type: Literal["result"] = "result"
    job_id: JobId
    output: JobOutput
    seconds: float = Field(default=0.0, ge=0.0)


class FailureKind(StrEnum):
    CRASHED = "crashed"
    OOM = "oom"
    CANCELLED = "cancelled"
    TIMEOUT = "timeout"
    ERROR = "error"


class JobFailed(BaseModel):
    """A job that ended without a result; `reason` is one line a musician can read."""

    model_config = _STRICT
    type: Literal["failed"] = "failed"
    job_id: JobId
    reason: str = Field(max_length=MAX_REASON_CHARS)
    kind: FailureKind


ClientMessage = Configure | SubmitJob | CancelJob | RequestStatus | Shutdown
ServerMessage = WorkerStatus | JobStarted | Progress | JobResult | JobFailed
Message = Annotated[ClientMessage | ServerMessage, Field(discriminator="type")]
_MESSAGE = TypeAdapter(Message)


def one_line(text: str, limit: int = MAX_REASON_CHARS) -> str:
    """Collapse whitespace and cut to `limit` characters: reasons are shown in a status bar."""
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


@dataclass(frozen=True)
class Envelope:
    """One message and the blobs (sha256 -> safetensors bytes) its fields refer to."""

    message: ClientMessage | ServerMessage
    blobs: Mapping[str, bytes] = field(default_factory=dict)

    @property
    def job_id(self) -> str | None:
        return getattr(self.message, "job_id", None)


# --- binary frames ------------------------------------------------------------------------------

_HEAD = struct.Struct(">4sBI")
_COUNT = struct.Struct(">I")
_BLOB_HEAD = struct.Struct(">64sQ")


def encode_frame(message: ClientMessage | ServerMessage, blobs: Mapping[str, bytes] = {}) -> bytes:
    """MAGIC, version, JSON length, JSON, blob count, then per blob: sha256 hex, length, bytes."""
    text = message.model_dump_json().encode("utf-8")
    if len(text) > MAX_JSON_BYTES:
        raise ProtocolError(f"message JSON is {len(text)} bytes, over {MAX_JSON_BYTES}")
    if len(blobs) > MAX_BLOBS:
        raise ProtocolError(f"{len(blobs)} blobs in one message, over {MAX_BLOBS}")
    parts = [_HEAD.pack(MAGIC, PROTOCOL_VERSION, len(text)), text, _COUNT.pack(len(blobs))]
    for sha, data in blobs.items():
        parts.append(_BLOB_HEAD.pack(sha.encode("ascii"), len(data)))
        parts.append(bytes(data))
    return b"".join(parts)


def decode_frame(data: bytes, *, verify: bool = True) -> Envelope:
    """Parse a frame; with `verify`, every blob's sha256 must match its name."""
    view = memoryview(data)
    if len(view) < _HEAD.size:
        raise ProtocolError(f"frame of {len(view)} bytes is too short")
    magic, version, text_len = _HEAD.unpack_from(view, 0)
    if magic != MAGIC:
        raise ProtocolError("not a Melodex worker frame (bad magic)")
    if version != PROTOCOL_VERSION:
        raise ProtocolError(f"protocol version {version}, this side speaks {PROTOCOL_VERSION}")
    offset = _HEAD.size
    if text_len > MAX_JSON_BYTES or offset + text_len + _COUNT.size > len(view):
        raise ProtocolError("frame is truncated or its JSON length is wrong")
    message = parse_message(bytes(view[offset : offset + text_len]))
    offset += text_len
    (count,) = _COUNT.unpack_from(view, offset)
    offset += _COUNT.size
    if count > MAX_BLOBS:
        raise ProtocolError(f"{count} blobs in one frame, over {MAX_BLOBS}")
    blobs: dict[str, bytes] = {}
    for _ in range(count):
        if offset + _BLOB_HEAD.size > len(view):
            raise ProtocolError("frame is truncated inside a blob header")
        raw_sha, length = _BLOB_HEAD.unpack_from(view, offset)
        offset += _BLOB_HEAD.size
        if length > MAX_BLOB_BYTES or offset + length > len(view):
            raise ProtocolError("frame is truncated inside a blob")
        blob = bytes(view[offset : offset + length])
        offset += length
        sha = raw_sha.decode("ascii", errors="replace")
        if verify and blob_sha(blob) != sha:
            raise ProtocolError(f"blob {sha[:12]}... does not match its sha256")
        blobs[sha] = blob
    if offset != len(view):
        raise ProtocolError(f"{len(view) - offset} stray bytes after the last blob")
    return Envelope(message, blobs)


def parse_message(text: bytes | str) -> ClientMessage | ServerMessage:
    try:
        return _MESSAGE.validate_json(text)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"])
        raise ProtocolError(one_line(f"invalid message at {where}: {first['msg']}")) from None


# --- JSON with inline blobs ---------------------------------------------------------------------


def envelope_to_json(envelope: Envelope) -> str:
    """The envelope as one JSON document, blobs base64-encoded (for text-only transports)."""
    return json.dumps(
        {
            "protocol": PROTOCOL_VERSION,
            "message": envelope.message.model_dump(mode="json"),
            "blobs": {
                sha: base64.b64encode(data).decode("ascii") for sha, data in envelope.blobs.items()
            },
        },
        separators=(",", ":"),
    )


def envelope_from_json(text: str) -> Envelope:
    try:
        document = json.loads(text)
        if document.get("protocol") != PROTOCOL_VERSION:
            raise ProtocolError(f"protocol version {document.get('protocol')!r} not supported")
        message = parse_message(json.dumps(document["message"]))
        blobs = {
            sha: base64.b64decode(data, validate=True) for sha, data in document["blobs"].items()
        }
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        if isinstance(exc, ProtocolError):
            raise
        raise ProtocolError(one_line(f"not a worker message: {exc}")) from None
    for sha, data in blobs.items():
        if blob_sha(data) != sha:
            raise ProtocolError(f"blob {sha[:12]}... does not match its sha256")
    return Envelope(message, blobs)
