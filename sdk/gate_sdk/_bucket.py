"""Rollout bucketing: Microsoft FeatureManagement's targeting percentage, bit for bit."""

from __future__ import annotations

from hashlib import sha256

_SCALE = 2**32 - 1


def bucket(value: str, flag: str) -> float:
    """Return the point in [0, 100] where `value` falls for `flag`."""
    digest = sha256((value + "\n" + flag).encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "little") / _SCALE * 100


def in_rollout(value: str | None, flag: str, percent: float) -> bool:
    """Tell whether `value` is inside `flag`'s rollout of `percent`."""
    if percent >= 100:
        return True
    if not value:  # no value (or an empty one) to bucket by: inside only at 100
        return False
    digest = sha256((value + "\n" + flag).encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "little") / _SCALE * 100 < percent
