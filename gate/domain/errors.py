"""Errors the domain raises: a parse error carries every problem with its path."""

from __future__ import annotations


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

    def raise_if_any(self) -> None:
        """Raise a ParseError carrying everything recorded."""
        if self.errors:
            raise ParseError(self.errors)
