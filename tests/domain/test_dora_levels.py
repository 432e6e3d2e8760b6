"""DORA levels from thresholds: a rate reached, a bound met ("below" is strict, "at most" is not)."""

from __future__ import annotations

import pytest

from gate.domain.dora import frequency_level, upper_bound_level
from gate.domain.words import counted, duration

TABLE = {  # the shape of gate/dora_levels.json (the 2021 report's cut-offs)
    "deployment_frequency": {
        "elite": {"per_days": 7, "at_least": 5},
        "high": {"per_days": 30, "at_least": 1},
        "medium": {"per_days": 182.5, "at_least": 1},
    },
    "lead_time_hours": {"elite": {"below": 1}, "high": {"below": 168}, "medium": {"below": 4320}},
    "change_fail_rate": {"elite": {"at_most": 15}, "high": {"at_most": 20}, "medium": {"at_most": 30}},
}


@pytest.mark.parametrize(
    ("deploy_days", "days", "level"),
    [
        (20, 28, "elite"),  # 5 a week exactly
        (19, 28, "high"),  # just under 5 a week
        (1, 30, "high"),  # once a month exactly
        (1, 31, "medium"),
        (1, 182, "medium"),
        (0, 30, "low"),
        (1, 183, "low"),  # less than once in six months
    ],
)
def test_deployment_frequency_is_the_first_rate_reached(deploy_days: int, days: int, level: str) -> None:
    assert frequency_level(TABLE, deploy_days, days) == level


@pytest.mark.parametrize(
    ("value", "level"),
    [(0.5, "elite"), (1, "high"), (167.9, "high"), (168, "medium"), (4319, "medium"), (4320, "low"), (None, None)],
)
def test_a_below_bound_is_strict(value: float | None, level: str | None) -> None:
    assert upper_bound_level(TABLE, "lead_time_hours", value) == level


@pytest.mark.parametrize(
    ("value", "level"), [(0, "elite"), (15, "elite"), (15.1, "high"), (20, "high"), (30, "medium"), (30.5, "low")]
)
def test_an_at_most_bound_includes_itself(value: float, level: str) -> None:
    assert upper_bound_level(TABLE, "change_fail_rate", value) == level


def test_counted_words_agree_with_their_number() -> None:
    assert [counted(n, "day") for n in (0, 1, 2)] == ["0 days", "1 day", "2 days"]
    assert counted(1, "child", "children") == "1 child" and counted(3, "child", "children") == "3 children"


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (0, "0 s"),
        (-30, "0 s"),
        (40.9, "40 s"),
        (60, "1 min"),
        (299, "4 min"),
        (3600, "1 h"),
        (3660, "1 h 1 min"),
        (86400, "1 day"),
        (86400 + 60, "24 h 1 min"),
        (2879 * 60, "47 h 59 min"),
        (2 * 86400, "2 days"),
        (3 * 86400 + 4 * 3600 + 59, "3 days 4 h"),
    ],
)
def test_durations_in_words(seconds: float, words: str) -> None:
    assert duration(seconds) == words
