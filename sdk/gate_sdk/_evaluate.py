"""The evaluation algorithm of the contract, section 5: a pure function over a snapshot.

Kept flat on purpose: it runs on every flag check of every request of the applications using it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gate_sdk._bucket import hash32
from gate_sdk._result import EvaluationDetails, Reason
from gate_sdk._snapshot import RING_PROBE, CompiledFlag, Snapshot

_SEQUENCES = (list, tuple)


class _Cleaned(dict[str, Any]):
    """A context reduced to the contract's fields and types."""


def _clean(context: Any) -> _Cleaned:
    clean = _Cleaned()
    if isinstance(context, Mapping):
        for key in ("user", "tenant"):
            if type(context.get(key)) is str:
                clean[key] = context[key]
        groups = context.get("groups")
        if isinstance(groups, list | tuple):
            clean["groups"] = [g for g in groups if type(g) is str]
    return clean


def context_ring(snapshot: Snapshot, context: Mapping[str, Any] | None) -> int:
    """Index of the first ring whose audience matches `context` (the last ring matches all)."""
    ring = evaluate(snapshot, RING_PROBE, _clean(context)).ring
    return [r.name for r in snapshot.rings].index(ring or snapshot.rings[-1].name)


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
        compiled: CompiledFlag | None = snapshot.compiled[flag]
    except (KeyError, TypeError):
        compiled = snapshot.compile(flag) if type(flag) is str else None
    if compiled is None:
        return EvaluationDetails(flag, default, Reason.UNKNOWN_FLAG, None, snapshot.version)
    try:
        # the context's ring: the first whose audience names it (kept inline: a call costs a fifth of the budget)
        index = snapshot.last
        if context:
            if snapshot.user_ring:
                found = snapshot.user_ring.get(context.get("user"))  # type: ignore[arg-type]
                if found is not None:
                    index = found
            if snapshot.tenant_ring:
                found = snapshot.tenant_ring.get(context.get("tenant"))  # type: ignore[arg-type]
                if found is not None and found < index:
                    index = found
            if snapshot.group_ring:
                groups = context.get("groups")
                if groups and type(groups) in _SEQUENCES:
                    for group in groups:
                        found = snapshot.group_ring.get(group)
                        if found is not None and found < index:
                            index = found
        result = compiled.outcomes[index]
        if result is not None:
            return result
        value = context.get(snapshot.bucket_by[index]) if context else None
        if value and type(value) is str and hash32(value + compiled.suffix) < compiled.threshold:
            return compiled.inside
        return compiled.outside
    except Exception:  # an odd context: evaluate its clean form, never raising into the application
        if type(context) is _Cleaned:
            return EvaluationDetails(flag, default, Reason.ERROR, None, snapshot.version)
        try:
            cleaned = _clean(context)
        except Exception:
            return EvaluationDetails(flag, default, Reason.ERROR, None, snapshot.version)
        return evaluate(snapshot, flag, cleaned, default)
