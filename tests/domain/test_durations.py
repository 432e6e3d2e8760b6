"""Durations as rings.yaml, plans and tokens write them: at most ten years, so that what they are added to
stays a date (contract 7.1)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from gate.domain.durations import MAX_DURATION, format_duration, parse_duration


def test_a_duration_may_be_ten_years_and_no_more() -> None:
    assert timedelta(days=3650) == MAX_DURATION
    assert parse_duration("3650d") == MAX_DURATION
    assert parse_duration(f"{3650 * 24}h") == MAX_DURATION
    with pytest.raises(ValueError, match=r"^'3651d' is longer than 3650d$"):
        parse_duration("3651d")
    with pytest.raises(ValueError, match=r"^'999999999d' is longer than 3650d$"):
        parse_duration("999999999d")
    with pytest.raises(ValueError, match="is not a duration like 30m, 24h or 3d"):
        parse_duration("soon")
    assert format_duration(parse_duration("90d")) == "90d"
