"""Numbers in words, one rule for every page and command: 1 day, 2 days."""

from __future__ import annotations


def counted(number: int, noun: str, plural: str | None = None) -> str:
    """'1 day', '0 days', '2 days'; an irregular plural is given."""
    return f"{number} {noun if number == 1 else plural or noun + 's'}"
