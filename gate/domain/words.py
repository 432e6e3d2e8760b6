"""Numbers in words, one rule for every page and command: 1 day, 2 days."""

from __future__ import annotations


def counted(number: int, noun: str, plural: str | None = None) -> str:
    """'1 day', '0 days', '2 days'; an irregular plural is given."""
    return f"{number} {noun if number == 1 else plural or noun + 's'}"


def duration(seconds: float) -> str:
    """A span as people say it: '1 day', '3 days 4 h', '47 h 59 min', '5 min', '40 s' (whole units, rounded down).

    Below two days the hours carry the day ('47 h 59 min', as an on-call reads a deadline); a negative
    span reads as none ('0 s')."""
    whole = max(int(seconds), 0)
    days, rest = divmod(whole, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days >= 2 or (days == 1 and not hours and not minutes):
        return counted(days, "day") + (f" {hours} h" if hours else "")
    hours += days * 24
    if hours:
        return f"{hours} h" + (f" {minutes} min" if minutes else "")
    return f"{minutes} min" if minutes else f"{secs} s"
