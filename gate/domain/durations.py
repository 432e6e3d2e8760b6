"""Durations as written in rings.yaml: an integer with s, m, h or d."""

from __future__ import annotations

import re
from datetime import timedelta

_DURATION = re.compile(r"([0-9]{1,9})([smhd])\Z")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# ten years: a soak, a hold or a token's life beyond it is a typo, and a time it is added to must stay a date
MAX_DURATION = timedelta(days=3650)


def parse_duration(text: str) -> timedelta:
    """Parse '24h' into a timedelta of at most 3650 days; raise ValueError on anything else."""
    match = _DURATION.match(text) if isinstance(text, str) else None
    if match is None:
        raise ValueError(f"{text!r} is not a duration like 30m, 24h or 3d")
    duration = timedelta(seconds=int(match.group(1)) * _UNITS[match.group(2)])
    if duration > MAX_DURATION:
        raise ValueError(f"{text!r} is longer than {MAX_DURATION.days}d")
    return duration


def format_duration(delta: timedelta) -> str:
    """Render a timedelta in the largest whole unit, falling back to hours and minutes."""
    seconds = int(delta.total_seconds())
    for unit in ("d", "h", "m"):
        if seconds and seconds % _UNITS[unit] == 0:
            return f"{seconds // _UNITS[unit]}{unit}"
    if seconds >= 3600:
        return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"
