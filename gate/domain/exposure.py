"""Exposure: percents as Gate stores them (hundredths, so 100% is FULL), and the rules built on them.

A percent travels as a number with at most two decimals (12.5), is stored as an integer of hundredths
(1250), and is shown as "12.5%". The DORA rules of what is a deployment and what leaves production live
here too, beside "released".
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

FULL = 10_000  # 100% in hundredths


def parse_percent(value: object) -> int:
    """Read a percent in (0, 100] with at most two decimals into hundredths; ValueError says what is wrong."""
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise ValueError("must be a number")
    try:
        exact = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError("must be a number") from None
    if not exact.is_finite() or not 0 < exact <= 100:
        raise ValueError("must be greater than 0 and at most 100")
    hundredths = exact * 100
    if hundredths != hundredths.to_integral_value():
        raise ValueError("must have at most two decimals")
    return int(hundredths)


def percent_number(hundredths: int) -> int | float:
    """Hundredths as the number the API shows: 5000 → 50, 1250 → 12.5."""
    return hundredths // 100 if hundredths % 100 == 0 else hundredths / 100


def format_percent(hundredths: int) -> str:
    """Hundredths as people read them: 5000 → '50%', 1250 → '12.5%'."""
    return f"{percent_number(hundredths):g}%"


def is_released(ring: str | None, hundredths: int, killed: bool, *, last_ring: str) -> bool:
    """Whether a feature is at 100% in the last ring and not killed: released to everyone."""
    return ring == last_ring and at_full(ring, hundredths, killed)


def at_full(ring: str | None, hundredths: int, killed: bool) -> bool:
    """Whether an exposure is 100% of a ring and alive: the state in which soak time counts."""
    return ring is not None and hundredths == FULL and not killed


def is_deployment(
    before: tuple[str | None, int], after: tuple[str | None, int], killed: bool, *, last_ring: str
) -> bool:
    """DORA: a change of exposure is a deployment when it enters the last ring or raises the percent in it."""
    (ring_before, percent_before), (ring_after, percent_after) = before, after
    return ring_after == last_ring and not killed and (ring_before != last_ring or percent_after > percent_before)


def leaves_production(
    before: tuple[str | None, int], after: tuple[str | None, int], killed: bool, *, last_ring: str
) -> bool:
    """DORA: lowering the percent in the last ring, leaving it, or a kill there fails the latest deployment."""
    (ring_before, percent_before), (ring_after, percent_after) = before, after
    return ring_before == last_ring and (ring_after != last_ring or percent_after < percent_before or killed)
