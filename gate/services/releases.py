"""Exposure changes: the gate, promote, rollout, rollback, kill and revive."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm.attributes import set_committed_value

from gate.domain.exposure import FULL, is_deployment, leaves_production
from gate.domain.gate import Check, GateResult, evaluate_gate, killed_check, next_ring
from gate.domain.rings import Ring
from gate.domain.roles import Principal, Role
from gate.errors import Conflict, Forbidden, GateRefused, InvalidInput
from gate.models import Change, DeploymentEvent, Feature, Incident
from gate.services import facts as facts_service
from gate.services.audit import audit
from gate.services.context import now, rings, session
from gate.services.features import ExposureChange, find_feature, state_of, state_version
from gate.services.state import bump_version
from gate.services.transactions import changed, transaction


def _ring(name: str | None) -> Ring:
    ring = rings().get(name) if name is not None else None
    if ring is None:
        raise InvalidInput(f"unknown ring {name!r}", errors={"ring": [f"must be one of {', '.join(rings().names)}"]})
    return ring


def gate_for(*, key: str, ring: str | None) -> tuple[Feature, GateResult]:
    """Evaluate the gate of `ring` (default: the next ring) for a feature."""
    feature = find_feature(key)
    target = _ring(ring) if ring is not None else next_ring(rings(), feature.ring)
    facts = facts_service.gather(feature)
    return feature, evaluate_gate(rings(), target, facts, now=now())


def _write(
    feature: Feature,
    *,
    kind: str,
    actor: str,
    ring: str | None,
    percent_bp: int,
    killed: bool,
    full_since: datetime | None,
    at: datetime,
    reason: str | None = None,
    overridden: bool = False,
) -> ExposureChange:
    """Compare-and-set the feature's exposure, bump the version, record the event and the audit entry."""
    s = session()
    before = state_of(feature)
    from_ring, from_percent_bp = feature.ring, feature.percent_bp
    last = rings().last.name
    move = ((feature.ring, feature.percent_bp), (ring, percent_bp))
    deployment = is_deployment(*move, killed, last_ring=last)
    leaves = leaves_production(*move, killed, last_ring=last)
    if not changed(
        update(Feature)
        .where(Feature.id == feature.id, Feature.exposure_rev == feature.exposure_rev)
        .values(
            ring=ring,
            percent_bp=percent_bp,
            killed=killed,
            full_since=full_since,
            updated_at=at,
            exposure_rev=feature.exposure_rev + 1,
        )
    ):
        raise Conflict("the feature's exposure changed meanwhile; read it again and retry")
    if leaves or kind == "kill":
        latest = s.scalar(
            select(DeploymentEvent.id)
            .where(DeploymentEvent.feature_id == feature.id, DeploymentEvent.is_deployment.is_(True))
            .order_by(DeploymentEvent.id.desc())
            .limit(1)
        )
        if latest is not None:
            s.execute(update(DeploymentEvent).where(DeploymentEvent.id == latest).values(failed=True))
    version = bump_version()
    event = DeploymentEvent(
        feature_id=feature.id,
        kind=kind,
        ring=ring,
        percent_bp=percent_bp,
        from_ring=from_ring,
        from_percent_bp=from_percent_bp,
        actor=actor,
        reason=reason,
        overridden=overridden,
        is_deployment=deployment,
        failed=False,
        version=version,
        at=at,
        day=at.date(),
    )
    s.add(event)
    s.flush()
    if deployment:  # lead time: each change reported since the last deployment ships now
        shipped = s.execute(
            select(Change.id, Change.committed_at).where(
                Change.feature_id == feature.id, Change.deployed_at.is_(None), Change.reported_at <= at
            )
        ).all()
        for change_id, committed_at in shipped:
            s.execute(
                update(Change)
                .where(Change.id == change_id)
                .values(deployed_at=at, lead_seconds=(at - committed_at).total_seconds())
            )
    new = {
        "ring": ring,
        "percent_bp": percent_bp,
        "killed": killed,
        "full_since": full_since,
        "exposure_rev": feature.exposure_rev + 1,
        "updated_at": at,
    }
    for name, value in new.items():  # already written by the compare-and-set above
        set_committed_value(feature, name, value)
    after = state_of(feature)
    audit(
        actor=actor,
        action=kind,
        target=f"feature:{feature.key}",
        feature=feature.key,
        before=before,
        after={**after, "reason": reason} if reason else after,
        at=at,
    )
    return ExposureChange(feature, version, event)


def promote(
    *, key: str, ring: str, percent_bp: int, override_reason: str | None, principal: Principal
) -> ExposureChange:
    """Expose a feature to the next ring when its gate passes (or an admin overrides it)."""
    if override_reason is not None and principal.role != Role.ADMIN:
        raise Forbidden("only an admin may override a gate")
    target = _ring(ring)
    at = now()
    with transaction():
        feature = find_feature(key)
        facts = facts_service.gather(feature)
        result = evaluate_gate(rings(), target, facts, now=at)
        if not result.passed:
            order_failed = any(c.name == "order" and not c.passed for c in result.checks)
            if order_failed or override_reason is None:
                raise GateRefused(_refusal(target.name, result.failed), checks=result.checks)
        full_since = at if percent_bp == FULL else None
        change = _write(
            feature,
            kind="promote",
            actor=principal.name,
            ring=target.name,
            percent_bp=percent_bp,
            killed=False,
            full_since=full_since,
            at=at,
            reason=override_reason,
            overridden=not result.passed,
        )
        if not result.passed:
            audit(
                actor=principal.name,
                action="override",
                target=f"feature:{key}",
                feature=key,
                before={"failed": [_check_json(c) for c in result.failed]},
                after={"ring": target.name, "reason": override_reason},
                at=at,
            )
    return change


def _refusal(ring: str, failed: tuple[Check, ...]) -> str:
    return f"the gate for {ring} did not pass: " + "; ".join(f"{c.name}: {c.detail}" for c in failed)


def _check_json(c: Check) -> dict[str, object]:
    return {"name": c.name, "passed": c.passed, "detail": c.detail}


def _refuse_killed(feature: Feature, action: str) -> None:
    if feature.killed:
        raise GateRefused(f"cannot {action} a killed feature; revive first", checks=(killed_check(feature.ring),))


def rollout(*, key: str, percent_bp: int, actor: str) -> ExposureChange:
    """Change the rollout percent inside the feature's current ring."""
    at = now()
    with transaction():
        feature = find_feature(key)
        _refuse_killed(feature, "roll out")
        if feature.ring is None:
            raise Conflict(f"{key} is in no ring yet; promote it first")
        if percent_bp == feature.percent_bp:
            return ExposureChange(feature, state_version(), None)
        return _write(
            feature,
            kind="rollout",
            actor=actor,
            ring=feature.ring,
            percent_bp=percent_bp,
            killed=False,
            full_since=at if percent_bp == FULL else None,
            at=at,
        )


def rollback(*, key: str, ring: str | None, reason: str | None, actor: str) -> ExposureChange:
    """Take a feature back to an earlier ring at 100%, or off (ring None)."""
    at = now()
    with transaction():
        feature = find_feature(key)
        current = rings().index(feature.ring)
        if current is None:
            raise Conflict(f"{key} is in no ring; there is nothing to roll back")
        if ring is not None:
            target = _ring(ring)
            if target.index >= current:
                raise Conflict(f"{ring} is not before {feature.ring}; roll back to an earlier ring or to null (off)")
        percent_bp = FULL if ring is not None else 0
        full_since = at if ring is not None and not feature.killed else None
        return _write(
            feature,
            kind="rollback",
            actor=actor,
            ring=ring,
            percent_bp=percent_bp,
            killed=feature.killed,
            full_since=full_since,
            at=at,
            reason=reason,
        )


def kill(*, key: str, reason: str | None, actor: str) -> ExposureChange:
    """Turn the feature off everywhere at once, keeping its ring and percent for revive."""
    at = now()
    with transaction():
        feature = find_feature(key)
        if feature.killed:
            raise Conflict(f"{key} is already killed")
        return kill_feature(feature, reason=reason, actor=actor, at=at)


def kill_feature(feature: Feature, *, reason: str | None, actor: str, at: datetime) -> ExposureChange:
    """Kill inside the caller's transaction; the kill restores the feature's open incidents."""
    change = _write(
        feature,
        kind="kill",
        actor=actor,
        ring=feature.ring,
        percent_bp=feature.percent_bp,
        killed=True,
        full_since=None,
        at=at,
        reason=reason,
    )
    session().execute(
        update(Incident)
        .where(Incident.feature_id == feature.id, Incident.resolved_at.is_(None), Incident.restored_at.is_(None))
        .values(restored_at=at)
    )
    return change


def revive(*, key: str, actor: str) -> ExposureChange:
    """Restore the ring and percent held at the kill (or as rolled back since)."""
    at = now()
    with transaction():
        feature = find_feature(key)
        if not feature.killed:
            raise Conflict(f"{key} is not killed")
        full_since = at if feature.ring is not None and feature.percent_bp == FULL else None
        return _write(
            feature,
            kind="revive",
            actor=actor,
            ring=feature.ring,
            percent_bp=feature.percent_bp,
            killed=False,
            full_since=full_since,
            at=at,
        )


def deployments(*, key: str, limit: int, before: int | None) -> list[DeploymentEvent]:
    """The feature's exposure history, newest first."""
    feature = find_feature(key)
    query = (
        select(DeploymentEvent)
        .where(DeploymentEvent.feature_id == feature.id)
        .order_by(DeploymentEvent.id.desc())
        .limit(limit)
    )
    if before is not None:
        query = query.where(DeploymentEvent.id < before)
    return list(session().scalars(query))
