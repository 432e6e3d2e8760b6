"""Release windows: parsing with paths, membership at the edges, the next opening, the words."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta, timezone
from typing import Any

import pytest

from gate.domain.errors import Problems
from gate.domain.windows import DAYS, Window, parse_window

BERLIN = {"days": ["mon", "tue", "wed", "thu"], "hours": "09:00-16:00", "timezone": "Europe/Berlin"}


def parse(raw: Any) -> tuple[Window | None, dict[str, list[str]]]:
    problems = Problems()
    return parse_window(raw, "plan.windows", problems), problems.errors


def test_a_window_parses_with_defaults() -> None:
    window, errors = parse(BERLIN)
    assert errors == {}
    assert window == Window(days=(0, 1, 2, 3), start=time(9), end=time(16), timezone="Europe/Berlin")
    assert parse({}) == (Window(), {})
    assert Window().days == (0, 1, 2, 3, 4, 5, 6) and Window().timezone == "UTC" and Window().end is None
    assert parse({"hours": "09:30-16:45"})[0] == Window(start=time(9, 30), end=time(16, 45))
    allday, _ = parse({"days": ["SAT"], "hours": "00:00-24:00"})
    assert allday == Window(days=(5,), start=time(0), end=None)


@pytest.mark.parametrize(
    ("raw", "errors"),
    [
        ("weekdays", {"plan.windows": ["must be a mapping with days, hours and timezone"]}),
        ({"days": []}, {"plan.windows.days": [f"must be a non-empty list of {', '.join(DAYS)}"]}),
        ({"days": "mon"}, {"plan.windows.days": [f"must be a non-empty list of {', '.join(DAYS)}"]}),
        (
            {"days": ["mon", "funday", 3]},
            {
                "plan.windows.days[1]": [f"must be one of {', '.join(DAYS)}"],
                "plan.windows.days[2]": [f"must be one of {', '.join(DAYS)}"],
            },
        ),
        ({"days": ["mon", "Mon"]}, {"plan.windows.days[1]": ["'Mon' is listed twice"]}),
        (
            {"hours": "9-16"},
            {"plan.windows.hours": ["must be hours like '09:00-16:00' (24-hour clock, start before end)"]},
        ),
        ({"hours": 9}, {"plan.windows.hours": ["must be hours like '09:00-16:00' (24-hour clock, start before end)"]}),
        (
            {"hours": "09:00-16:00\n"},
            {"plan.windows.hours": ["must be hours like '09:00-16:00' (24-hour clock, start before end)"]},
        ),
        (
            {"hours": "24:00-24:00"},
            {"plan.windows.hours": ["must be hours like '09:00-16:00' (24-hour clock, start before end)"]},
        ),
        ({"hours": "16:00-09:00"}, {"plan.windows.hours": ["must start before it ends, within one day"]}),
        ({"hours": "09:00-09:00"}, {"plan.windows.hours": ["must start before it ends, within one day"]}),
        ({"hours": "09:00-24:30"}, {"plan.windows.hours": ["must end at 24:00 at the latest"]}),
        ({"timezone": "Mars/Olympus"}, {"plan.windows.timezone": ["unknown time zone 'Mars/Olympus'"]}),
        (
            {"timezone": "../etc/passwd"},
            {"plan.windows.timezone": ["must be a time zone like 'Europe/Berlin' or 'UTC'"]},
        ),
        (
            {"timezone": "/etc/localtime"},
            {"plan.windows.timezone": ["must be a time zone like 'Europe/Berlin' or 'UTC'"]},
        ),
        ({"timezone": 1}, {"plan.windows.timezone": ["must be a time zone like 'Europe/Berlin' or 'UTC'"]}),
        (
            {"timezone": "Europe/Berlin\n"},
            {"plan.windows.timezone": ["must be a time zone like 'Europe/Berlin' or 'UTC'"]},
        ),
        ({"when": "always"}, {"plan.windows.when": ["unknown key; expected one of days, hours, timezone"]}),
    ],
)
def test_a_bad_window_names_every_problem_with_its_path(raw: Any, errors: dict[str, list[str]]) -> None:
    assert parse(raw) == (None, errors)


def test_membership_is_in_the_windows_zone_and_the_end_is_outside() -> None:
    window, _ = parse(BERLIN)
    assert window is not None
    # Monday 30 Nov 2026; Berlin is UTC+1 in winter
    assert not window.contains(datetime(2026, 11, 30, 7, 59, tzinfo=UTC))
    assert window.contains(datetime(2026, 11, 30, 8, 0, tzinfo=UTC))
    assert window.contains(datetime(2026, 11, 30, 14, 59, tzinfo=UTC))
    assert not window.contains(datetime(2026, 11, 30, 15, 0, tzinfo=UTC))
    assert not window.contains(datetime(2026, 12, 4, 10, 0, tzinfo=UTC))  # Friday
    assert window.contains(datetime(2026, 12, 3, 10, 0, tzinfo=UTC))  # Thursday
    # summer time: UTC+2
    assert window.contains(datetime(2026, 7, 6, 7, 0, tzinfo=UTC))
    assert not window.contains(datetime(2026, 7, 6, 14, 0, tzinfo=UTC))
    # the day is the zone's day: 23:30 UTC on Sunday is Monday 00:30 in Berlin
    late = Window(days=(0,), start=time(0), end=time(1), timezone="Europe/Berlin")
    assert late.contains(datetime(2026, 11, 29, 23, 30, tzinfo=UTC))
    assert Window().contains(datetime(2026, 11, 29, 23, 59, 59, tzinfo=UTC))


def test_the_next_opening() -> None:
    window, _ = parse(BERLIN)
    assert window is not None
    inside = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    assert window.next_opening(inside) == inside
    before = datetime(2026, 11, 30, 6, 0, tzinfo=UTC)  # Monday 07:00 in Berlin: opens at 09:00 today
    assert window.next_opening(before) == datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
    after = datetime(2026, 11, 30, 16, 0, tzinfo=UTC)  # Monday 17:00: tomorrow
    assert window.next_opening(after) == datetime(2026, 12, 1, 8, 0, tzinfo=UTC)
    thursday_evening = datetime(2026, 12, 3, 18, 0, tzinfo=UTC)  # next Monday
    opening = window.next_opening(thursday_evening)
    assert opening == datetime(2026, 12, 7, 8, 0, tzinfo=UTC) and opening.tzinfo == UTC
    assert window.local(opening) == "Mon 07 Dec 09:00 CET"
    # the days are the zone's: Monday 16:30 in Los Angeles is Tuesday in UTC, and today's 17:00 opening comes first
    evening = Window(days=(0,), start=time(17), end=time(18), timezone="America/Los_Angeles")
    assert evening.next_opening(datetime(2026, 12, 1, 0, 30, tzinfo=UTC)) == datetime(2026, 12, 1, 1, 0, tzinfo=UTC)
    # the answer keeps the caller's zone
    plus5 = timezone(timedelta(hours=5))
    answer = window.next_opening(datetime(2026, 11, 30, 21, 0, tzinfo=plus5))
    assert answer == datetime(2026, 12, 1, 8, 0, tzinfo=UTC) and answer.utcoffset() == timedelta(hours=5)
    sunday_only = Window(days=(6,), start=time(10), end=time(11))
    assert sunday_only.next_opening(datetime(2026, 11, 29, 11, 0, tzinfo=UTC)) == datetime(2026, 12, 6, 10, tzinfo=UTC)


def test_a_window_in_words_and_as_json() -> None:
    window, _ = parse(BERLIN)
    assert window is not None
    assert window.describe() == "mon, tue, wed, thu 09:00-16:00 Europe/Berlin"
    assert window.to_json() == {
        "days": ["mon", "tue", "wed", "thu"],
        "hours": "09:00-16:00",
        "timezone": "Europe/Berlin",
    }
    assert Window().describe() == "every day 00:00-24:00 UTC"
    assert Window().to_json() == {"days": list(DAYS), "hours": "00:00-24:00", "timezone": "UTC"}
    assert parse(window.to_json())[0] == window
