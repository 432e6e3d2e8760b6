"""Rollout bucketing: Microsoft FeatureManagement's targeting percentage, bit for bit.

A context is inside a rollout of `percent` iff x / (2**32 - 1) * 100 < percent, where x is the first 4
bytes, little-endian, of SHA-256(value + "\\n" + flag). That float expression only grows with x, so the
test is the same as x < threshold(percent), which the evaluator computes once per flag and snapshot.
"""

from __future__ import annotations

import struct
from hashlib import sha256

_SCALE = 2**32 - 1
_FIRST_U32 = struct.Struct("<I").unpack_from


def hash32(key: str) -> int:
    """The first 4 bytes of SHA-256(key), little-endian."""
    return _FIRST_U32(sha256(key.encode()).digest())[0]  # type: ignore[no-any-return]


def point(key: str) -> float:
    """Where `key` (value + "\\n" + flag) falls in [0, 100]."""
    return hash32(key) / _SCALE * 100


def threshold(percent: float) -> int:
    """The least x with x / (2**32 - 1) * 100 >= percent: inside the rollout iff hash32 < threshold."""
    low, high = 0, 2**32  # f(2**32 - 1) == 100.0, so percent <= 100 always has an answer at or below 2**32 - 1
    while low < high:
        middle = (low + high) // 2
        if middle / _SCALE * 100 >= percent:
            high = middle
        else:
            low = middle + 1
    return low


def bucket(value: str, flag: str) -> float:
    """Return the point in [0, 100] where `value` falls for `flag`."""
    return point(value + "\n" + flag)


def in_rollout(value: str | None, flag: str, percent: float) -> bool:
    """Tell whether `value` is inside `flag`'s rollout of `percent` (no value: inside only at 100)."""
    if percent >= 100:
        return True
    if not value:
        return False
    return point(value + "\n" + flag) < percent
