"""Release windows: the days and hours, in a time zone, when a release plan may take a step."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from gate.domain.errors import Problems

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HOURS = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])-([01][0-9]|2[0-4]):([0-5][0-9])\Z")
_ZONE = re.compile(r"[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+){0,2}\Z")
_KEYS = {"days", "hours", "timezone"}


@dataclass(frozen=True)
class Window:
    """When steps may start: on `days` (0 is Monday), from `start` until `end`, in `timezone`."""

    days: tuple[int, ...] = tuple(range(7))
    start: time = time(0, 0)
    end: time | None = None  # None: until midnight
    timezone: str = "UTC"

    def contains(self, at: datetime) -> bool:
        """Whether `at` (aware) is inside the window."""
        local = at.astimezone(ZoneInfo(self.timezone))
        clock = local.time().replace(tzinfo=None)
        return local.weekday() in self.days and self.start <= clock and (self.end is None or clock < self.end)

    def next_opening(self, at: datetime) -> datetime:
        """The first moment at or after `at` that is inside the window."""
        if self.contains(at):
            return at
        zone = ZoneInfo(self.timezone)
        local = at.astimezone(zone)
        days = ((local + timedelta(days=offset)).date() for offset in range(8))
        openings = (datetime.combine(day, self.start, tzinfo=zone) for day in days)
        return next(o for o in openings if o.weekday() in self.days and o >= local).astimezone(at.tzinfo)

    def local(self, at: datetime) -> str:
        """A moment as the window's zone reads it: 'Mon 09 Nov 09:00 CET'."""
        return at.astimezone(ZoneInfo(self.timezone)).strftime("%a %d %b %H:%M %Z")

    def describe(self) -> str:
        """The window as people read it: 'mon, tue 09:00-16:00 Europe/Berlin'."""
        days = "every day" if len(self.days) == 7 else ", ".join(DAYS[d] for d in self.days)
        end = self.end.strftime("%H:%M") if self.end is not None else "24:00"
        return f"{days} {self.start:%H:%M}-{end} {self.timezone}"

    def to_json(self) -> dict[str, Any]:
        """The window as the product file writes it."""
        end = self.end.strftime("%H:%M") if self.end is not None else "24:00"
        return {
            "days": [DAYS[d] for d in self.days],
            "hours": f"{self.start:%H:%M}-{end}",
            "timezone": self.timezone,
        }


def parse_window(raw: Any, path: str, problems: Problems) -> Window | None:
    """Read a `windows:` mapping; every problem is recorded under `path`."""
    if not isinstance(raw, dict):
        problems.add(path, "must be a mapping with days, hours and timezone")
        return None
    before = len(problems.errors)
    problems.unknown_keys(raw, _KEYS, path)
    days = _days(raw.get("days", list(DAYS)), f"{path}.days", problems)
    start, end = _hours(raw.get("hours", "00:00-24:00"), f"{path}.hours", problems)
    zone = _zone(raw.get("timezone", "UTC"), f"{path}.timezone", problems)
    if len(problems.errors) != before:
        return None
    return Window(days=days, start=start, end=end, timezone=zone)


def _days(raw: Any, path: str, problems: Problems) -> tuple[int, ...]:
    if not isinstance(raw, list) or not raw:
        problems.add(path, f"must be a non-empty list of {', '.join(DAYS)}")
        return ()
    days: set[int] = set()
    for i, day in enumerate(raw):
        if not isinstance(day, str) or day.lower() not in DAYS:
            problems.add(f"{path}[{i}]", f"must be one of {', '.join(DAYS)}")
        elif DAYS.index(day.lower()) in days:
            problems.add(f"{path}[{i}]", f"{day!r} is listed twice")
        else:
            days.add(DAYS.index(day.lower()))
    return tuple(sorted(days))


def _hours(raw: Any, path: str, problems: Problems) -> tuple[time, time | None]:
    match = _HOURS.match(raw) if isinstance(raw, str) else None
    if match is None:
        problems.add(path, "must be hours like '09:00-16:00' (24-hour clock, start before end)")
        return time.min, None
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    start = time(h1, m1)
    if h2 == 24 and m2:
        problems.add(path, "must end at 24:00 at the latest")
        return start, None
    end = None if h2 == 24 else time(h2, m2)
    if end is not None and end <= start:
        problems.add(path, "must start before it ends, within one day")
    return start, end


def _zone(raw: Any, path: str, problems: Problems) -> str:
    if not isinstance(raw, str) or _ZONE.match(raw) is None:
        problems.add(path, "must be a time zone like 'Europe/Berlin' or 'UTC'")
        return "UTC"
    try:
        ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        problems.add(path, f"unknown time zone {raw!r}")
        return "UTC"
    return raw
