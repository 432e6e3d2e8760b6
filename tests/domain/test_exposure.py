"""Percents and the exposure rules built on them: released, a deployment, leaving production."""

from __future__ import annotations

from decimal import Decimal

import pytest

from gate.domain.exposure import (
    FULL,
    format_percent,
    is_deployment,
    is_released,
    leaves_production,
    parse_percent,
    percent_number,
)


@pytest.mark.parametrize(
    ("given", "hundredths"),
    [(100, FULL), (50, 5000), (12.5, 1250), (0.01, 1), (99.99, 9999), ("33.33", 3333), (Decimal("1"), 100)],
)
def test_percents_are_read_into_hundredths(given: object, hundredths: int) -> None:
    assert parse_percent(given) == hundredths


@pytest.mark.parametrize(
    ("given", "message"),
    [
        (0, "must be greater than 0 and at most 100"),
        (100.01, "must be greater than 0 and at most 100"),
        (-5, "must be greater than 0 and at most 100"),
        (12.345, "must have at most two decimals"),
        (0.001, "must have at most two decimals"),
        (True, "must be a number"),
        (None, "must be a number"),
        ("ten", "must be a number"),
        (float("nan"), "must be greater than 0 and at most 100"),
        (float("inf"), "must be greater than 0 and at most 100"),
        (type("Fifty", (), {"__str__": lambda self: "50"})(), "must be a number"),  # numeric text is not a number
        ([50], "must be a number"),
    ],
)
def test_a_percent_outside_the_rules_is_refused_with_its_reason(given: object, message: str) -> None:
    with pytest.raises(ValueError) as refused:
        parse_percent(given)
    assert str(refused.value) == message  # the whole sentence: the API shows it as it is


def test_percents_are_shown_without_needless_decimals() -> None:
    assert (percent_number(FULL), percent_number(1250), percent_number(1)) == (100, 12.5, 0.01)
    assert isinstance(percent_number(5000), int)
    assert (format_percent(5000), format_percent(1250), format_percent(1)) == ("50%", "12.5%", "0.01%")


def test_released_means_everyone_at_full_and_not_killed() -> None:
    assert is_released("ga", FULL, False, last_ring="ga")
    assert not is_released("ga", FULL - 1, False, last_ring="ga")
    assert not is_released("ga", FULL, True, last_ring="ga")
    assert not is_released("preview", FULL, False, last_ring="ga")


@pytest.mark.parametrize(
    ("before", "after", "killed", "deployment", "leaves"),
    [
        (("preview", FULL), ("ga", 500), False, True, False),  # entering the last ring
        (("ga", 500), ("ga", 5000), False, True, False),  # raising the percent in it
        (("ga", 5000), ("ga", 500), False, False, True),  # lowering it
        (("ga", 5000), ("ga", 5000), True, False, True),  # a kill there
        (("ga", FULL), ("preview", FULL), False, False, True),  # rolling back out of it
        (("internal", FULL), ("preview", 1000), False, False, False),  # inside earlier rings: neither
        (("ga", FULL), ("ga", FULL), False, False, False),  # a revive at the same exposure: neither
        ((None, 0), ("ga", FULL), True, False, False),  # killed while entering: not a deployment
    ],
)
def test_what_dora_counts(
    before: tuple[str | None, int], after: tuple[str | None, int], killed: bool, deployment: bool, leaves: bool
) -> None:
    assert is_deployment(before, after, killed, last_ring="ga") is deployment
    assert leaves_production(before, after, killed, last_ring="ga") is leaves
