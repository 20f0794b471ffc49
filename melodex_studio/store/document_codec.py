"""The project document as canonical JSON, and its guarded parsing.

Canonical JSON (sorted keys, no spaces, UTF-8 as is) makes the same project always produce the
same bytes, so re-saving an unchanged project is byte-identical and revisions can be compared by
sha256. Parsing is guarded in layers, cheapest first, before pydantic sees anything: a size
limit, a nesting-depth and value-count scan that never recurses, duplicate keys and NaN refused,
then pydantic in strict mode.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

import numpy as np
from pydantic import ValidationError

from melodex_studio.project.models import Project
from melodex_studio.store.errors import DocumentTooLarge, InvalidDocument
from melodex_studio.store.format import Limits

# A JSON string token; the possessive quantifier keeps the scan linear on hostile input.
_STRING = re.compile(r'"(?:[^"\\]|\\.)*+"', re.DOTALL)
_OPEN = frozenset(b"[{")


def canonical_json(project: Project) -> str:
    """The one text a project is stored as."""
    return canonical_dumps(project.model_dump(mode="json"))


def canonical_dumps(data: Any) -> str:
    return json.dumps(
        data, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def text_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def check_document_size(n_bytes: int, limits: Limits, where: str) -> None:
    if n_bytes > limits.max_document_bytes:
        raise DocumentTooLarge(
            f"{where}: the project document is {n_bytes / 2**20:.1f} MiB, over the "
            f"{limits.max_document_bytes / 2**20:.0f} MiB limit; refusing to read it"
        )


def scan_structure(text: str, limits: Limits, where: str) -> None:
    """Refuse nesting deeper than the limit and too many values, without recursion: strings
    are blanked out, then depth is a cumulative sum over the bracket bytes."""
    skeleton = _STRING.sub('""', text).encode("utf-8", "surrogatepass")
    codes = np.frombuffer(skeleton, dtype=np.uint8)
    opens = (codes == ord("[")) | (codes == ord("{"))
    closes = (codes == ord("]")) | (codes == ord("}"))
    steps = opens.astype(np.int32) - closes.astype(np.int32)
    if steps.size:
        depth = int(np.cumsum(steps).max())
        if depth > limits.max_json_depth:
            raise InvalidDocument(
                f"{where}: the project document nests {depth} levels deep, over the limit of "
                f"{limits.max_json_depth}"
            )
    values = int(opens.sum()) + int(np.count_nonzero(codes == ord(","))) + 1
    if values > limits.max_json_values:
        raise InvalidDocument(
            f"{where}: the project document holds about {values} values, over the limit of "
            f"{limits.max_json_values}"
        )


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


def _no_constants(name: str) -> Any:
    raise _BadConstant(name)


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


class _BadConstant(ValueError):
    pass


def parse_json_object(text: str, limits: Limits, where: str) -> dict[str, Any]:
    """The guarded JSON parse: limits, no duplicate keys, no NaN/Infinity, an object on top."""
    check_document_size(len(text.encode("utf-8", "surrogatepass")), limits, where)
    scan_structure(text, limits, where)
    try:
        data = json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constants)
    except _DuplicateKey as exc:
        raise InvalidDocument(
            f"{where}: the project document has the key {exc.key[:60]!r} twice in one object"
        ) from None
    except _BadConstant as exc:
        raise InvalidDocument(f"{where}: the project document contains {exc} (not JSON)") from None
    except json.JSONDecodeError as exc:
        raise InvalidDocument(
            f"{where}: the project document is not valid JSON: {exc.msg} at line {exc.lineno} "
            f"column {exc.colno}"
        ) from None
    except RecursionError:  # unreachable after the depth scan; kept as a last guard
        raise InvalidDocument(f"{where}: the project document nests too deeply") from None
    if not isinstance(data, dict):
        raise InvalidDocument(
            f"{where}: the project document must be a JSON object, not {type(data).__name__}"
        )
    return data


def validate_project(text: str, where: str) -> Project:
    """Pydantic strict validation of already-guarded canonical or migrated JSON text."""
    try:
        return Project.model_validate_json(text, strict=True)
    except ValidationError as exc:
        problem = _first_problem(exc)
        raise InvalidDocument(f"{where}: the project document is invalid: {problem}") from None


def _first_problem(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False, include_input=False)
    if not errors:
        return "unknown problem"
    first = errors[0]
    location = ".".join(str(part) for part in first.get("loc", ())) or "document"
    text = f"{location}: {first.get('msg', 'invalid')}"
    if len(errors) > 1:
        text += f" (and {len(errors) - 1} more problems)"
    return text[:400]
