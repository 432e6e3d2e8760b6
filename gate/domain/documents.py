"""Limits every loaded document obeys, whatever its source (JSON or YAML body, form, file).

One walk at the boundary refuses, for every field at once: nesting deeper than 64 levels, mapping
keys that are not strings, integers of more than 30 digits, non-finite numbers, and text holding a
NUL character or a lone surrogate (no store keeps them alike, and no answer can encode them).
"""

from __future__ import annotations

import math
import re
from typing import Any
from urllib.parse import urlsplit

from gate.domain.errors import ParseError

MAX_DEPTH = 64
MAX_DIGITS = 30
MAX_ID = 2**63 - 1  # row ids: what every store's BIGINT holds
_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")


class UnsafeDocument(ParseError):
    """A document broke a limit that holds for every field (depth, keys, number size, characters)."""


def text_problem(value: str) -> str | None:
    """Why `value` cannot be stored as text, or None when it can."""
    bad = _BAD_TEXT.search(value)
    if bad is None:
        return None
    return "must not contain a NUL character" if bad.group() == "\x00" else "must not contain a lone surrogate"


def number_problem(value: int | float) -> str | None:
    """Why `value` is not an acceptable number, or None when it is."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return None if -(10**MAX_DIGITS) < value < 10**MAX_DIGITS else f"must have at most {MAX_DIGITS} digits"
    return None if math.isfinite(value) else "must be a finite number"


def check_document(document: Any, *, root: str = "$") -> None:
    """Raise UnsafeDocument naming every place where `document` breaks a limit."""
    errors: dict[str, list[str]] = {}
    # an explicit stack: a hostile document must not be able to exhaust Python's own recursion
    stack: list[tuple[Any, str, int]] = [(document, root, 1)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, dict | list) and depth > MAX_DEPTH:
            errors.setdefault(path, []).append(f"is nested more than {MAX_DEPTH} levels deep")
            continue
        if isinstance(value, dict):
            for key, item in value.items():
                where = _join(path, root, key)
                if not isinstance(key, str):
                    errors.setdefault(where, []).append("a mapping key must be a string")
                    continue
                problem = text_problem(key)
                if problem is not None:
                    errors.setdefault(where, []).append(f"a mapping key {problem}")
                    continue
                stack.append((item, where, depth + 1))
        elif isinstance(value, list):
            stack.extend((item, f"{path}[{i}]", depth + 1) for i, item in enumerate(value))
        elif isinstance(value, str):
            problem = text_problem(value)
            if problem is not None:
                errors.setdefault(path, []).append(problem)
        elif isinstance(value, int | float):
            problem = number_problem(value)
            if problem is not None:
                errors.setdefault(path, []).append(problem)
    if errors:
        raise UnsafeDocument(dict(sorted(errors.items())))


def _join(path: str, root: str, key: object) -> str:
    name = key if isinstance(key, str) and text_problem(key) is None else repr(key)
    return str(name) if path == root else f"{path}.{name}"


def is_http_url(value: str) -> bool:
    """An http or https URL with a host: a page may render it as a link, so no other scheme gets in."""
    try:
        parts = urlsplit(value)
    except ValueError:
        return False
    return parts.scheme.lower() in ("http", "https") and bool(parts.hostname) and value == value.strip()
