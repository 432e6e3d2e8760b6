"""Safe JSON reading: bounded numbers, no NaN or Infinity, no recursion past the document limits."""

from __future__ import annotations

import json
from typing import Any

from gate.domain.documents import MAX_DIGITS, UnsafeDocument, check_document
from gate.domain.errors import ParseError


def _int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_DIGITS:
        raise UnsafeDocument({"$": [f"a number has more than {MAX_DIGITS} digits"]})
    return int(text)


def _float(text: str) -> float:
    mantissa = text.lstrip("-").lower().partition("e")[0].replace(".", "")
    if len(mantissa) > MAX_DIGITS or len(text) > 2 * MAX_DIGITS:
        raise UnsafeDocument({"$": [f"a number has more than {MAX_DIGITS} digits"]})
    return float(text)


def _constant(name: str) -> Any:
    raise ParseError({"$": [f"{name} is not JSON"]})


def load_json(body: bytes | str, *, source: str = "$") -> Any:
    """Parse a JSON document and check it against the limits every document obeys.

    Malformed JSON raises ParseError; a well-formed document that breaks a limit raises UnsafeDocument.
    """
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
    except UnicodeDecodeError as exc:
        raise ParseError({source: [f"not valid UTF-8 at byte {exc.start}"]}) from None
    try:
        document = json.loads(text, parse_int=_int, parse_float=_float, parse_constant=_constant)
    except RecursionError:
        raise UnsafeDocument({source: ["is nested too deep"]}) from None
    except ValueError as exc:  # JSONDecodeError included
        raise ParseError({source: [f"not valid JSON: {exc}"]}) from None
    check_document(document, root=source)
    return document
