"""The evaluation algorithm of the contract, section 5: a pure function over a snapshot."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gate_sdk._bucket import in_rollout
from gate_sdk._result import EvaluationDetails, Reason
from gate_sdk._snapshot import CompiledFlag, Snapshot


def context_ring(snapshot: Snapshot, context: Mapping[str, Any] | None) -> int:
    """Index of the first ring whose audience matches `context` (the last ring matches all)."""
    index = len(snapshot.rings) - 1
    if not context:
        return index
    user, tenant, groups = context.get("user"), context.get("tenant"), context.get("groups")
    if type(user) is str:
        index = snapshot.user_ring.get(user, index)
    if type(tenant) is str:
        index = min(index, snapshot.tenant_ring.get(tenant, index))
    if groups and type(groups) in (list, tuple):
        group_ring = snapshot.group_ring
        for group in groups:
            if type(group) is str:
                index = min(index, group_ring.get(group, index))
    return index


def evaluate(
    snapshot: Snapshot | None,
    flag: str,
    context: Mapping[str, Any] | None = None,
    default: bool = False,
) -> EvaluationDetails:
    """Evaluate `flag` for `context`; never raises, answering `default` with a reason instead."""
    if snapshot is None:
        return EvaluationDetails(flag, default, Reason.NOT_READY, None, None)
    try:
        compiled: CompiledFlag | None = snapshot.compiled.get(flag)
        if compiled is None:
            return EvaluationDetails(flag, default, Reason.UNKNOWN_FLAG, None, snapshot.version)
        index = context_ring(snapshot, context)
        result = compiled.outcomes[index]
        if result is not None:
            return result
        value = context.get(snapshot.bucket_by[index]) if context else None
        if type(value) is str and in_rollout(value, flag, compiled.percent):
            return compiled.inside
        return compiled.outside
    except Exception:  # a hostile context (a mapping that raises, say) must not reach the application
        return EvaluationDetails(flag, default, Reason.ERROR, None, snapshot.version)
