"""What an evaluation answers: the result and its reason."""

from __future__ import annotations

from enum import StrEnum
from itertools import count
from typing import Any

_DISCARD = count()  # where results nobody tallies (unknown flags, no snapshot) count their evaluations


class Reason(StrEnum):
    """Why an evaluation answered as it did."""

    RING = "RING"
    ROLLOUT = "ROLLOUT"
    NOT_IN_RING = "NOT_IN_RING"
    KILLED = "KILLED"
    OFF = "OFF"
    UNKNOWN_FLAG = "UNKNOWN_FLAG"
    NOT_READY = "NOT_READY"
    ERROR = "ERROR"


class EvaluationDetails:
    """The answer for one flag and context.

    Results of known flags are built once per snapshot and shared, so evaluating allocates nothing;
    they compare by identity (use `astuple()` to compare contents). `_hits` is the tally that a client
    advances for each evaluation answered with this result (itertools.count: atomic, no lock).
    """

    __slots__ = ("_hits", "enabled", "flag", "reason", "ring", "version")

    def __init__(
        self,
        flag: str,
        enabled: bool,
        reason: Reason,
        ring: str | None,
        version: int | None,
        *,
        hits: count[int] = _DISCARD,
    ) -> None:
        self.flag = flag
        self.enabled = enabled
        self.reason = reason
        self.ring = ring
        self.version = version
        self._hits = hits

    def astuple(self) -> tuple[str, bool, Reason, str | None, int | None]:
        """(flag, enabled, reason, ring, version)."""
        return (self.flag, self.enabled, self.reason, self.ring, self.version)

    def _asdict(self) -> dict[str, Any]:
        return {
            "flag": self.flag,
            "enabled": self.enabled,
            "reason": self.reason,
            "ring": self.ring,
            "version": self.version,
        }

    def __repr__(self) -> str:
        return (
            f"EvaluationDetails(flag={self.flag!r}, enabled={self.enabled}, reason={self.reason.value}, "
            f"ring={self.ring!r}, version={self.version})"
        )


# OpenFeature's reasons for Gate's (used by OFREP on the server and by the OpenFeature provider)
OPENFEATURE_REASONS: dict[Reason, str] = {
    Reason.RING: "TARGETING_MATCH",
    Reason.ROLLOUT: "SPLIT",
    Reason.KILLED: "DISABLED",
    Reason.OFF: "DISABLED",
    Reason.NOT_IN_RING: "DEFAULT",
    Reason.UNKNOWN_FLAG: "ERROR",
    Reason.NOT_READY: "ERROR",
    Reason.ERROR: "ERROR",
}


def tally(hits: count[int]) -> int:
    """How many evaluations a tally has counted, without counting one more."""
    return int(repr(hits)[6:-1])  # "count(N)"
