"""Validation of safetensors blobs without trusting (or loading) them.

A blob is safetensors bytes: an 8-byte little-endian header length, a JSON header naming each
tensor's dtype, shape and byte range, then the raw data. We parse the header ourselves with
limits and check that the byte ranges tile the data exactly, so a pickle or any other payload
stored where a tensor belongs is refused with a message, and nothing is ever unpickled.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from melodex_studio.store.errors import BadBlob, short_sha
from melodex_studio.store.format import TENSOR_NAMES_BY_KIND, Limits

#: Bytes per element of each safetensors dtype a Melodex blob may hold.
DTYPE_SIZES = {"F16": 2, "BF16": 2, "F32": 4, "F64": 8}
LENGTH_BYTES = 8


@dataclass(frozen=True, slots=True)
class TensorInfo:
    name: str
    dtype: str
    shape: tuple[int, ...]
    begin: int
    end: int


def _looks_like_pickle(prefix: bytes) -> bool:
    return len(prefix) >= 2 and prefix[0] == 0x80 and 2 <= prefix[1] <= 5


def header_length(prefix: bytes, size: int, sha256: str, limits: Limits) -> int:
    """The JSON header length from a blob's first 8 bytes, checked against limits and size."""
    name = short_sha(sha256)
    if _looks_like_pickle(prefix):
        raise BadBlob(
            f"blob {name} holds a Python pickle where a tensor belongs; Melodex never loads "
            "pickles, so the file is refused"
        )
    if size < LENGTH_BYTES or len(prefix) < LENGTH_BYTES:
        raise BadBlob(f"blob {name} is {size} bytes, too short to be a tensor (safetensors)")
    length = int.from_bytes(prefix[:LENGTH_BYTES], "little")
    if length < 2 or length > limits.max_tensor_header_bytes or LENGTH_BYTES + length > size:
        raise BadBlob(
            f"blob {name} is not a tensor (safetensors): its header length {length} does not "
            f"fit the {size}-byte blob"
        )
    return length


def parse_header(
    header: bytes, size: int, sha256: str, limits: Limits, kind: str | None = None
) -> list[TensorInfo]:
    """Check a safetensors JSON header against the blob's total `size` and expected `kind`."""
    name = short_sha(sha256)

    def bad(problem: str) -> BadBlob:
        return BadBlob(f"blob {name} is not a valid tensor (safetensors): {problem}")

    try:
        data = json.loads(header.decode("utf-8"), object_pairs_hook=_unique_pairs)
    except (UnicodeDecodeError, ValueError) as exc:
        raise bad(f"its header is not JSON ({str(exc)[:80]})") from None
    if not isinstance(data, dict):
        raise bad("its header is not a JSON object")
    _check_metadata(data.pop("__metadata__", None), limits, bad)
    if not 1 <= len(data) <= limits.max_tensors_per_blob:
        raise bad(f"it holds {len(data)} tensors (1 to {limits.max_tensors_per_blob} allowed)")
    data_bytes = size - LENGTH_BYTES - len(header)
    tensors = [_tensor_info(key, value, limits, bad) for key, value in data.items()]
    position = 0
    for tensor in sorted(tensors, key=lambda t: (t.begin, t.end)):
        if tensor.begin != position:
            raise bad(f"tensor {tensor.name!r} starts at byte {tensor.begin}, expected {position}")
        position = tensor.end
    if position != data_bytes:
        raise bad(f"its tensors cover {position} bytes but the blob has {data_bytes} data bytes")
    if kind is not None:
        allowed = TENSOR_NAMES_BY_KIND[kind]
        for tensor in tensors:
            if tensor.name not in allowed:
                raise bad(
                    f"a {kind} blob holds tensor {tensor.name!r}, expected one of "
                    f"{', '.join(sorted(allowed))}"
                )
    return tensors


def check_tensor_blob(
    data: bytes, sha256: str, limits: Limits, kind: str | None = None
) -> list[TensorInfo]:
    """Full structural check of blob bytes already in memory."""
    length = header_length(data[:LENGTH_BYTES], len(data), sha256, limits)
    return parse_header(data[LENGTH_BYTES : LENGTH_BYTES + length], len(data), sha256, limits, kind)


def kind_of(tensors: list[TensorInfo]) -> str:
    """The blob kind its tensor names imply (an "audio" tensor makes an audio blob)."""
    return "audio" if any(tensor.name == "audio" for tensor in tensors) else "latent"


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key[:40]!r}")
        result[key] = value
    return result


def _check_metadata(meta: Any, limits: Limits, bad: Callable[[str], BadBlob]) -> None:
    if meta is None:
        return
    if not isinstance(meta, dict) or len(meta) > limits.max_metadata_entries:
        raise bad("its __metadata__ must be a small object of text values")
    for key, value in meta.items():
        if not isinstance(value, str) or len(key) + len(value) > limits.max_metadata_chars:
            raise bad(f"its __metadata__ entry {key[:40]!r} is not a short text")


def _tensor_info(key: str, value: Any, limits: Limits, bad: Callable[[str], BadBlob]) -> TensorInfo:
    if not key or len(key) > 64:
        raise bad("a tensor name is empty or too long")
    if not isinstance(value, dict) or set(value) != {"dtype", "shape", "data_offsets"}:
        raise bad(f"tensor {key[:40]!r} must have exactly dtype, shape and data_offsets")
    dtype, shape, offsets = value["dtype"], value["shape"], value["data_offsets"]
    if dtype not in DTYPE_SIZES:
        allowed = ", ".join(DTYPE_SIZES)
        raise bad(f"tensor {key!r} has dtype {str(dtype)[:20]!r}; allowed: {allowed}")
    if (
        not isinstance(shape, list)
        or len(shape) > limits.max_tensor_dims
        or not all(type(dim) is int and dim >= 0 for dim in shape)
    ):
        raise bad(f"tensor {key!r} has an invalid shape")
    if (
        not isinstance(offsets, list)
        or len(offsets) != 2
        or not all(type(offset) is int and offset >= 0 for offset in offsets)
        or offsets[0] > offsets[1]
    ):
        raise bad(f"tensor {key!r} has invalid data offsets")
    expected = math.prod(shape) * DTYPE_SIZES[dtype]
    if offsets[1] - offsets[0] != expected:
        raise bad(
            f"tensor {key!r} of shape {shape} {dtype} needs {expected} bytes but its offsets "
            f"span {offsets[1] - offsets[0]}"
        )
    return TensorInfo(key, dtype, tuple(shape), offsets[0], offsets[1])
