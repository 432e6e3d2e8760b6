"""The evaluation algorithm of the contract, section 5: a pure function over a snapshot."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, NamedTuple

from gate_sdk._bucket import in_rollout
from gate_sdk._snapshot import Snapshot, SnapshotRing


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


class EvaluationDetails(NamedTuple):
    """The answer for one flag and context."""

    flag: str
    enabled: bool
    reason: Reason
    ring: str | None
    version: int | None


def context_ring(rings: tuple[SnapshotRing, ...], context: Mapping[str, Any] | None) -> int:
    """Return the index of the first ring whose audience matches `context` (the last matches all)."""
    if not context:
        return len(rings) - 1
    user = context.get("user")
    tenant = context.get("tenant")
    groups = context.get("groups")
    if type(user) is not str:
        user = None
    if type(tenant) is not str:
        tenant = None
    groups = [g for g in groups if type(g) is str] if groups and isinstance(groups, list | tuple) else None
    last = len(rings) - 1
    for i, ring in enumerate(rings):
        audience = ring.audience
        if (
            i == last
            or audience.everyone
            or (user is not None and user in audience.users)
            or (tenant is not None and tenant in audience.tenants)
            or (groups and not audience.groups.isdisjoint(groups))
        ):
            return i
    return last  # pragma: no cover - the loop always returns at the last ring


def evaluate(
    snapshot: Snapshot | None,
    flag: str,
    context: Mapping[str, Any] | None = None,
    default: bool = False,
) -> EvaluationDetails:
    """Evaluate `flag` for `context`; never raises, answering `default` with a reason instead."""
    if snapshot is None:
        return EvaluationDetails(flag, default, Reason.NOT_READY, None, None)
    state = snapshot.flags.get(flag)
    if state is None:
        return EvaluationDetails(flag, default, Reason.UNKNOWN_FLAG, None, snapshot.version)
    try:
        rings = snapshot.rings
        index = context_ring(rings, context)
        ring = rings[index]
        if state.killed:
            return EvaluationDetails(flag, False, Reason.KILLED, ring.name, snapshot.version)
        if state.ring_index is None:
            return EvaluationDetails(flag, False, Reason.OFF, ring.name, snapshot.version)
        if index < state.ring_index:
            return EvaluationDetails(flag, True, Reason.RING, ring.name, snapshot.version)
        if index > state.ring_index:
            return EvaluationDetails(flag, False, Reason.NOT_IN_RING, ring.name, snapshot.version)
        value = context.get(ring.bucket_by) if context else None
        enabled = in_rollout(value if type(value) is str else None, flag, state.percent)
        return EvaluationDetails(flag, enabled, Reason.ROLLOUT, ring.name, snapshot.version)
    except Exception:  # evaluation must never raise into the application
        return EvaluationDetails(flag, default, Reason.ERROR, None, snapshot.version)
