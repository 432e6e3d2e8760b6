"""Errors the domain raises: a parse error carries every problem with its path."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any


class DomainError(Exception):
    """A rule of the domain was broken."""


class ParseError(DomainError):
    """A document failed validation; `errors` maps each path to its messages."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        self.errors = errors
        lines = [f"{path}: {msg}" for path, msgs in errors.items() for msg in msgs]
        super().__init__("; ".join(lines))


class Problems:
    """Collects errors by path while a parser walks a document."""

    def __init__(self) -> None:
        self.errors: dict[str, list[str]] = {}

    def add(self, path: str, message: str) -> None:
        """Record `message` against `path`."""
        self.errors.setdefault(path or "$", []).append(message)

    def unknown_keys(self, data: Mapping[Any, Any], allowed: Collection[str], path: str = "") -> None:
        """Record each key of `data` that is not `allowed`, at its path, in sorted order, naming those allowed."""
        expected = ", ".join(sorted(allowed))
        for key in sorted(set(map(str, data)) - set(allowed)):
            self.add(f"{path}.{key}" if path else key, f"unknown key; expected one of {expected}")

    def raise_if_any(self) -> None:
        """Raise a ParseError carrying everything recorded."""
        if self.errors:
            raise ParseError(self.errors)
