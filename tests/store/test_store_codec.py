"""Canonical JSON, the guarded document parse and the safetensors checks, piece by piece."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
from safetensors.numpy import save as save_safetensors
from store_builders import make_project

from melodex_studio.store import BadBlob, DocumentTooLarge, InvalidDocument, canonical_json
from melodex_studio.store.document_codec import parse_json_object, scan_structure
from melodex_studio.store.format import DEFAULT_LIMITS, Limits
from melodex_studio.store.tensors import check_tensor_blob

SHA = "ab" * 32


def test_canonical_json_is_sorted_compact_and_utf8():
    project, _ = make_project()
    project = project.updated(title="Café Nocturne")
    text = canonical_json(project)
    data = project.model_dump(mode="json")
    assert text == json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert "Café" in text and "\\u00e9" not in text
    assert '", "' not in text and '": ' not in text
    assert canonical_json(project.updated(title="Café Nocturne")) == text


@pytest.mark.parametrize(
    ("text", "error", "message"),
    [
        ('{"a": 1, "a": 2}', InvalidDocument, "twice"),
        ('{"a": {"b": 1, "b": 1}}', InvalidDocument, "twice"),
        ('{"a": NaN}', InvalidDocument, "NaN"),
        ('{"a": -Infinity}', InvalidDocument, "Infinity"),
        ('{"a": 1', InvalidDocument, "not valid JSON"),
        ("[]", InvalidDocument, "JSON object"),
        ('{"a":' + "[" * 65 + "]" * 65 + "}", InvalidDocument, "nests 66 levels"),
    ],
)
def test_guarded_parse_refuses(text, error, message):
    with pytest.raises(error, match=message):
        parse_json_object(text, DEFAULT_LIMITS, "test")


def test_brackets_inside_strings_do_not_count_as_nesting():
    text = '{"a": "' + "[{" * 1000 + '\\"]", "b": [[1]]}'
    assert parse_json_object(text, DEFAULT_LIMITS, "test")["b"] == [[1]]


def test_depth_limit_is_exact():
    limits = Limits(max_json_depth=3)
    scan_structure('{"a":[[1]]}', limits, "test")
    with pytest.raises(InvalidDocument):
        scan_structure('{"a":[[[1]]]}', limits, "test")


def test_value_count_and_size_limits():
    with pytest.raises(InvalidDocument, match="values"):
        parse_json_object('{"a":[' + "1," * 100 + "1]}", Limits(max_json_values=50), "test")
    with pytest.raises(DocumentTooLarge, match="limit"):
        parse_json_object('{"a":"' + "x" * 2000 + '"}', Limits(max_document_bytes=1024), "t")


def _tensor(**tensors) -> bytes:
    return save_safetensors(tensors)


def test_valid_latent_and_audio_blobs_pass():
    latent = _tensor(latent=np.zeros((16, 10), dtype=np.float32))
    check_tensor_blob(latent, SHA, DEFAULT_LIMITS, "latent")
    half = _tensor(noise=np.zeros((4, 3), dtype=np.float16))
    check_tensor_blob(half, SHA, DEFAULT_LIMITS, "latent")
    audio = save_safetensors({"audio": np.zeros(7, dtype=np.float32)}, metadata={"rate": "44100"})
    check_tensor_blob(audio, SHA, DEFAULT_LIMITS, "audio")


def _raw(header: dict, data: bytes) -> bytes:
    encoded = json.dumps(header).encode()
    return struct.pack("<Q", len(encoded)) + encoded + data


@pytest.mark.parametrize(
    ("blob", "message"),
    [
        (b"\x80\x04\x95" + bytes(20), "pickle"),
        (b"abc", "too short"),
        (struct.pack("<Q", 10**12) + b"{}", "header length"),
        (_raw({"latent": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, bytes(4)),
         "cover 8 bytes"),
        (_raw({"latent": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}, bytes(4)),
         "needs 8 bytes"),
        (_raw({"latent": {"dtype": "I64", "shape": [1], "data_offsets": [0, 8]}}, bytes(8)),
         "dtype"),
        (_raw({"latent": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 0]}}, b""),
         "shape"),
        (_raw({"audio": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, bytes(4)),
         "expected one of latent, noise"),
        (_raw({"__metadata__": {"a": 1}, "latent": {"dtype": "F32", "shape": [0],
               "data_offsets": [0, 0]}}, b""), "__metadata__"),
        (_raw({"__metadata__": {}}, b""), "holds 0 tensors"),
        (_raw({"latent": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4], "x": 1}},
              bytes(4)), "exactly dtype"),
        (_raw({"latent": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},
               "noise": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}, bytes(8)),
         "starts at byte 0"),
        (struct.pack("<Q", 4) + b"\xff\xfe{}" + bytes(4), "not JSON"),
    ],
)
def test_bad_tensor_blobs_are_refused_with_a_reason(blob, message):
    with pytest.raises(BadBlob, match=message):
        check_tensor_blob(blob, SHA, DEFAULT_LIMITS, "latent")


def test_blob_count_limit_is_enforced_on_open(tmp_path):
    from melodex_studio.store import MemoryBlobs, open_project, save_project

    project, blobs = make_project(takes=1)
    path = tmp_path / "song.mlx"
    save_project(path, project, MemoryBlobs(blobs))
    with pytest.raises(InvalidDocument, match="blobs, over the limit"):
        open_project(path, Limits(max_blobs=len(blobs) - 1))
