"""Listing pages: newest first, ?limit= and ?before=ID."""

from __future__ import annotations

from typing import Any


def page(args: dict[str, Any]) -> dict[str, Any]:
    """Pick the paging arguments out of loaded query arguments."""
    return {"limit": args["limit"], "before": args["before"]}
