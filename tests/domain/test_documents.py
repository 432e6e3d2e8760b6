"""The limits every document obeys, refused at once for every field with its path."""

from __future__ import annotations

import math

import pytest

from gate.domain.documents import MAX_DEPTH, UnsafeDocument, check_document, number_problem, text_problem


def nested(depth: int) -> object:
    """A list nested `depth` levels deep (1: a flat list)."""
    value: object = []
    for _ in range(depth - 1):
        value = [value]
    return value


def refused(document: object, root: str | None = None) -> dict[str, list[str]]:
    with pytest.raises(UnsafeDocument) as caught:
        if root is None:
            check_document(document)
        else:
            check_document(document, root=root)
    return caught.value.errors


def test_a_clean_document_passes() -> None:
    check_document({"a": [1, 2.5, "text", None, True, {"b": -(10**29)}], "é": "ünïcode ✓"})
    check_document(nested(MAX_DEPTH))
    check_document({"k": nested(MAX_DEPTH - 1)})


def test_nesting_past_the_limit_is_refused_where_it_happens() -> None:
    assert refused(nested(MAX_DEPTH + 1)) == {"$" + "[0]" * MAX_DEPTH: ["is nested more than 64 levels deep"]}
    assert refused({"k": nested(MAX_DEPTH)}) == {"k" + "[0]" * (MAX_DEPTH - 1): ["is nested more than 64 levels deep"]}


def test_every_problem_is_named_with_its_path_sorted() -> None:
    document = {
        "name": "a\x00b",
        "list": ["ok", "\ud800", 10**30, math.inf],
        "inner": {"deep": {"x\x00": 1, 5: "v"}, "nan": math.nan},
        "fine": -(10**30) + 1,
    }
    assert refused(document) == {
        "inner.deep.'x\\x00'": ["a mapping key must not contain a NUL character"],
        "inner.deep.5": ["a mapping key must be a string"],
        "inner.nan": ["must be a finite number"],
        "list[1]": ["must not contain a lone surrogate"],
        "list[2]": ["must have at most 30 digits"],
        "list[3]": ["must be a finite number"],
        "name": ["must not contain a NUL character"],
    }


def test_the_root_names_top_level_places() -> None:
    assert refused(["\x00"], root="body") == {"body[0]": ["must not contain a NUL character"]}
    assert refused({"k": "\x00"}, root="body") == {"k": ["must not contain a NUL character"]}
    assert refused("\udfff") == {"$": ["must not contain a lone surrogate"]}


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("plain", None),
        ("", None),
        ("\x00", "must not contain a NUL character"),
        ("ok\ud800", "must not contain a lone surrogate"),
        ("\udc00ok", "must not contain a lone surrogate"),
        ("\U0001f600", None),  # a real astral character is a pair in UTF-16, never lone here
    ],
)
def test_text_problem(value: str, problem: str | None) -> None:
    assert text_problem(value) == problem


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (True, None),
        (10**30 - 1, None),
        (-(10**30) + 1, None),
        (10**30, "must have at most 30 digits"),
        (-(10**30), "must have at most 30 digits"),
        (1e300, None),
        (math.inf, "must be a finite number"),
        (-math.inf, "must be a finite number"),
        (math.nan, "must be a finite number"),
    ],
)
def test_number_problem(value: float, problem: str | None) -> None:
    assert number_problem(value) == problem


def test_one_refusal_does_not_stop_the_walk() -> None:
    """After a bad key, a too-deep branch or a bad value, every other place is still checked."""
    assert refused({1: "a", "\x00": "b", "ok": "\x00", "deep": nested(MAX_DEPTH), "last": math.nan}) == {
        "'\\x00'": ["a mapping key must not contain a NUL character"],
        "1": ["a mapping key must be a string"],
        "deep" + "[0]" * (MAX_DEPTH - 1): ["is nested more than 64 levels deep"],
        "last": ["must be a finite number"],
        "ok": ["must not contain a NUL character"],
    }
    assert refused([nested(MAX_DEPTH), "\x00"]) == {
        "$[0]" + "[0]" * (MAX_DEPTH - 1): ["is nested more than 64 levels deep"],
        "$[1]": ["must not contain a NUL character"],
    }
