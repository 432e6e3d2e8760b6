"""Exposure changes: the gate, promote, rollout, rollback, kill and revive."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from gate.domain.exposure import FULL, at_full, is_deployment, leaves_production
from gate.domain.gate import Check, GateResult, evaluate_gate, killed_check, next_ring
from gate.domain.rings import Ring
from gate.domain.roles import Principal, Role
from gate.errors import Conflict, Forbidden, GateRefused, InvalidInput
from gate.models import Change, DeploymentEvent, Feature, Incident
from gate.services import facts as facts_service
from gate.services import plan_runs
from gate.services.audit import audit
from gate.services.context import now, rings, session
from gate.services.features import ExposureChange, exposure_json, find_feature, snapshot_version
from gate.services.transactions import changed_to, transaction
from gate.services.values import copy_row
from gate.services.versions import bump_version


def _ring(name: str | None) -> Ring:
    ring = rings().get(name) if name is not None else None
    if ring is None:
        raise InvalidInput(f"unknown ring {name!r}", errors={"ring": [f"must be one of {', '.join(rings().names)}"]})
    return ring


def gate_for(*, key: str, ring: str | None, build: str | None = None) -> GateResult:
    """Evaluate the gate of `ring` (default: the next ring) for a feature; with `build`, only that build's
    evidence counts."""
    feature = find_feature(key)
    target = _ring(ring) if ring is not None else next_ring(rings(), feature.ring)
    facts = facts_service.gather(feature, build)
    return evaluate_gate(rings(), target, facts, now=now())


@dataclass(frozen=True)
class Move:
    """An exposure change as asked: what the feature becomes, and who asked for it, when and why."""

    kind: str
    actor: str
    at: datetime
    ring: str | None
    percent_bp: int
    killed: bool = False
    reason: str | None = None
    overridden: bool = False
    pauses_plan: bool = True  # a change by hand pauses a running release plan; the plan's own steps do not

    @property
    def full_since(self) -> datetime | None:
        """When soak starts counting: now, if the move leaves the feature at 100% in a ring and alive."""
        return self.at if at_full(self.ring, self.percent_bp, self.killed) else None


def _write(feature: Feature, move: Move) -> ExposureChange:
    """Compare-and-set the feature's exposure, bump the version, record the event and the audit entry."""
    before, origin = exposure_json(feature), (feature.ring, feature.percent_bp)
    last = rings().last.name
    step = (origin, (move.ring, move.percent_bp))
    deployment = is_deployment(*step, move.killed, last_ring=last)
    _compare_and_set(feature, move)  # first: the feature's row is locked before the version row
    if leaves_production(*step, move.killed, last_ring=last) or move.kind == "kill":
        _fail_latest_deployment(feature.id)
    event = _record_event(feature.id, origin, move, deployment)
    if deployment:
        _ship_changes(feature.id, move.at)
    if move.pauses_plan:
        plan_runs.pause_after_manual_change(feature, kind=move.kind, actor=move.actor, at=move.at)
    after = exposure_json(feature)
    audit(
        actor=move.actor,
        action=move.kind,
        target=f"feature:{feature.key}",
        feature=feature.key,
        before=before,
        after={**after, "reason": move.reason} if move.reason else after,
        at=move.at,
    )
    return ExposureChange.of(feature, event.version, event)


def _compare_and_set(feature: Feature, move: Move) -> None:
    """Write the new exposure only if nobody changed it since it was read (a racing writer gets 409)."""
    new = {
        "ring": move.ring,
        "percent_bp": move.percent_bp,
        "killed": move.killed,
        "full_since": move.full_since,
        "updated_at": move.at,
        "exposure_rev": feature.exposure_rev + 1,
    }
    current = Feature.id == feature.id, Feature.exposure_rev == feature.exposure_rev
    if changed_to(update(Feature).where(*current).values(**new), Feature) is None:  # `feature` now holds the row
        raise Conflict("the feature's exposure changed meanwhile; read it again and retry")


def _fail_latest_deployment(feature_id: int) -> None:
    """DORA: the feature's latest deployment failed (it was lowered, left or killed)."""
    latest = (
        select(DeploymentEvent.id)
        .where(DeploymentEvent.feature_id == feature_id, DeploymentEvent.is_deployment.is_(True))
        .order_by(DeploymentEvent.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    session().execute(
        update(DeploymentEvent).where(DeploymentEvent.id == latest).values(failed=True),
        execution_options={"synchronize_session": False},
    )


def _record_event(feature_id: int, origin: tuple[str | None, int], move: Move, deployment: bool) -> DeploymentEvent:
    """Append the exposure history's event, under a new snapshot version."""
    event = DeploymentEvent(
        feature_id=feature_id,
        kind=move.kind,
        ring=move.ring,
        percent_bp=move.percent_bp,
        from_ring=origin[0],
        from_percent_bp=origin[1],
        actor=move.actor,
        reason=move.reason,
        overridden=move.overridden,
        is_deployment=deployment,
        failed=False,
        version=bump_version(),
        at=move.at,
        day=move.at.date(),
    )
    session().add(event)
    session().flush()
    return event


def _ship_changes(feature_id: int, at: datetime) -> None:
    """Lead time: each change reported since the feature's last deployment ships now."""
    s = session()
    shipped = s.execute(
        select(Change.id, Change.committed_at).where(
            Change.feature_id == feature_id, Change.deployed_at.is_(None), Change.reported_at <= at
        )
    ).all()
    for change_id, committed_at in shipped:
        s.execute(
            update(Change)
            .where(Change.id == change_id)
            .values(deployed_at=at, lead_seconds=(at - committed_at).total_seconds())
        )


def promote(
    *,
    key: str,
    ring: str,
    percent_bp: int,
    override_reason: str | None,
    principal: Principal,
    build: str | None = None,
) -> ExposureChange:
    """Expose a feature to the next ring when its gate passes (or an admin overrides it); with `build`, the gate
    judges only that build's evidence."""
    if override_reason is not None and Role.ADMIN not in principal.roles:
        raise Forbidden("only an admin may override a gate")
    target = _ring(ring)
    with transaction():
        feature = find_feature(key)
        asked = Asked(override=override_reason, build=build)
        return promote_feature(feature, target, percent_bp, actor=principal.name, at=now(), asked=asked)


@dataclass(frozen=True)
class Asked:
    """How a promote was asked for: an admin's override reason, the build whose evidence counts, and whether it
    is a change by hand (which pauses a running release plan; the plan's own steps do not)."""

    override: str | None = None
    build: str | None = None
    pauses_plan: bool = True


def promote_feature(
    feature: Feature, target: Ring, percent_bp: int, *, actor: str, at: datetime, asked: Asked = Asked()
) -> ExposureChange:
    """Promote inside the caller's transaction: the gate decides; only an override reason passes a failed one."""
    facts = facts_service.gather(feature, asked.build)
    result = evaluate_gate(rings(), target, facts, now=at)
    override, pauses_plan = asked.override, asked.pauses_plan
    if not result.passed:
        order_failed = any(c.name == "order" and not c.passed for c in result.checks)
        if order_failed or override is None:
            raise GateRefused(_refusal(target.name, result.failed), checks=result.checks)
    move = Move("promote", actor, at, target.name, percent_bp, False, override, not result.passed, pauses_plan)
    change = _write(feature, move)
    if not result.passed:
        audit(
            actor=actor,
            action="override",
            target=f"feature:{feature.key}",
            feature=feature.key,
            before={"failed": [_check_json(c) for c in result.failed]},
            after={"ring": target.name, "reason": override},
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
            return ExposureChange.of(feature, snapshot_version(), None)
        return _write(feature, Move("rollout", actor, at, feature.ring, percent_bp))


def plan_move(
    feature: Feature, kind: str, ring: str | None, percent_bp: int, *, actor: str, at: datetime, reason: str | None
) -> ExposureChange:
    """A release plan's rollout, or its rollback to an earlier step, inside the caller's transaction."""
    if kind == "rollout":
        _refuse_killed(feature, "roll out")
    return _write(feature, Move(kind, actor, at, ring, percent_bp, feature.killed, reason, pauses_plan=False))


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
        return _write(feature, Move("rollback", actor, at, ring, percent_bp, feature.killed, reason))


def kill(*, key: str, reason: str | None, actor: str) -> ExposureChange:
    """Turn the feature off everywhere at once, keeping its ring and percent for revive."""
    at = now()
    with transaction():
        feature = find_feature(key)
        if feature.killed:
            raise Conflict(f"{key} is already killed")
        return kill_feature(feature, reason=reason, actor=actor, at=at)


def kill_feature(
    feature: Feature, *, reason: str | None, actor: str, at: datetime, pauses_plan: bool = True
) -> ExposureChange:
    """Kill inside the caller's transaction; the kill restores the feature's open incidents."""
    change = _write(
        feature, Move("kill", actor, at, feature.ring, feature.percent_bp, True, reason, pauses_plan=pauses_plan)
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
        return _write(feature, Move("revive", actor, at, feature.ring, feature.percent_bp))


@dataclass(frozen=True)
class DeploymentView:
    """One recorded exposure change."""

    id: int
    kind: str
    ring: str | None
    percent_bp: int
    from_ring: str | None
    from_percent_bp: int
    actor: str
    reason: str | None
    overridden: bool
    is_deployment: bool
    failed: bool
    version: int
    at: datetime


def deployments(*, key: str, limit: int, before: int | None) -> list[DeploymentView]:
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
    return [copy_row(DeploymentView, event) for event in session().scalars(query)]
