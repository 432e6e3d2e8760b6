"""What services hand out: frozen values copied out of rows, never the rows (which belong to the session)."""

from __future__ import annotations

from dataclasses import fields
from typing import Any, TypeVar

T = TypeVar("T")


def copy_row(cls: type[T], row: Any, **given: Any) -> T:
    """A `cls` value with each field read from the row's attribute of that name, unless `given`."""
    names = [f.name for f in fields(cls)]  # type: ignore[arg-type]
    return cls(**{name: given[name] if name in given else getattr(row, name) for name in names})
