"""Tensor blobs: numpy arrays as safetensors bytes, addressed by the sha256 of those bytes.

Everything that crosses the worker boundary or lands in a .mlx file as a tensor goes through
here, so there is one byte format (never pickle). A blob holds exactly one tensor under a name
that says what it is ("latent" [channels, frames], "noise" likewise, or "audio" [samples] mono
as `audio.arrangement` reads it) and no metadata: rates live in the take that names the blob.
With one tensor and no metadata the bytes are a function of the array alone, so a re-run that
reproduces a latent reproduces its blob ref too. (safetensors keeps `__metadata__` in a hash
map: with two or more entries their order, and so the sha256, changes from process to process.)
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping

import numpy as np
from safetensors import SafetensorError
from safetensors.numpy import load as st_load
from safetensors.numpy import save as st_save

LATENT = "latent"
AUDIO = "audio"
NOISE = "noise"
TENSOR_NAMES = (LATENT, AUDIO, NOISE)


class BlobError(ValueError):
    """Bytes that are not a tensor blob, or a blob that is missing or damaged."""


def blob_sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def encode_tensor(array: np.ndarray, name: str) -> bytes:
    """One tensor as safetensors bytes (contiguous, no metadata: see the module docstring)."""
    if name not in TENSOR_NAMES:
        raise BlobError(f"tensor blobs are named {', '.join(TENSOR_NAMES)}, not {name!r}")
    contiguous = np.ascontiguousarray(array)
    if contiguous.dtype not in (np.float32, np.float16):
        raise BlobError(f"tensor blobs hold float32 or float16, not {contiguous.dtype}")
    return st_save({name: contiguous})


def decode_tensor(data: bytes, name: str | None = None) -> np.ndarray:
    """The tensor inside a blob (checked to be `name` when given)."""
    try:
        tensors = st_load(bytes(data))
    except (SafetensorError, ValueError, OSError) as exc:
        raise BlobError(f"not a tensor blob: {exc}") from exc
    if len(tensors) != 1:
        raise BlobError(f"a tensor blob holds one tensor, this one holds {len(tensors)}")
    ((found, array),) = tensors.items()
    if name is not None and found != name:
        raise BlobError(f"expected a {name!r} blob, got {found!r}")
    return array


def encode_latent(latent: np.ndarray) -> bytes:
    if latent.ndim != 2:
        raise BlobError(f"a latent is [channels, frames], got shape {latent.shape}")
    return encode_tensor(latent.astype(np.float32, copy=False), LATENT)


def encode_noise(noise: np.ndarray) -> bytes:
    return encode_tensor(noise.astype(np.float32, copy=False), NOISE)


def encode_audio(audio: np.ndarray) -> bytes:
    """Mono audio as a 1-D float32 [samples] tensor (what `audio.arrangement` reads), or
    [channels, samples] for more than one channel."""
    if audio.ndim == 2 and audio.shape[0] == 1:
        audio = audio[0]
    if audio.ndim not in (1, 2):
        raise BlobError(f"audio is [samples] or [channels, samples], got shape {audio.shape}")
    return encode_tensor(audio.astype(np.float32, copy=False), AUDIO)


class BlobBag(Mapping[str, bytes]):
    """sha256 -> bytes for the blobs one message (or one operation) carries."""

    def __init__(self, blobs: Mapping[str, bytes] | None = None) -> None:
        self._blobs: dict[str, bytes] = dict(blobs or {})

    def add(self, data: bytes) -> str:
        sha = blob_sha(data)
        self._blobs[sha] = bytes(data)
        return sha

    def add_latent(self, latent: np.ndarray) -> str:
        return self.add(encode_latent(latent))

    def add_noise(self, noise: np.ndarray) -> str:
        return self.add(encode_noise(noise))

    def add_audio(self, audio: np.ndarray) -> str:
        return self.add(encode_audio(audio))

    def update(self, other: Mapping[str, bytes]) -> None:
        self._blobs.update(other)

    def tensor(self, sha: str, name: str | None = None) -> np.ndarray:
        if sha not in self._blobs:
            raise BlobError(f"blob {sha[:12]}... is missing")
        return decode_tensor(self._blobs[sha], name)

    def subset(self, refs: set[str] | frozenset[str]) -> BlobBag:
        missing = [ref for ref in refs if ref not in self._blobs]
        if missing:
            raise BlobError(f"blob {missing[0][:12]}... is missing")
        return BlobBag({ref: self._blobs[ref] for ref in refs})

    def __getitem__(self, sha: str) -> bytes:
        return self._blobs[sha]

    def __iter__(self) -> Iterator[str]:
        return iter(self._blobs)

    def __len__(self) -> int:
        return len(self._blobs)

    def nbytes(self) -> int:
        return sum(len(data) for data in self._blobs.values())
