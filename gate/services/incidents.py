"""Incidents: report (deduplicated), alert, auto-kill, acknowledge, resolve, correct; RCA items."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update

from gate.domain import incidents as policy
from gate.errors import Conflict, InvalidInput, NotFound
from gate.models import DeploymentEvent, Feature, Incident, RcaItem
from gate.services import alerts, plans
from gate.services.audit import audit
from gate.services.context import now, rings, session
from gate.services.features import key_of
from gate.services.releases import kill_feature
from gate.services.transactions import changed, transaction


@dataclass(frozen=True)
class RcaView:
    """An RCA item as readers see it."""

    id: int
    incident_id: int
    title: str
    opened_at: datetime
    closed_at: datetime | None

    @classmethod
    def of(cls, item: RcaItem) -> RcaView:
        return cls(item.id, item.incident_id, item.title, item.opened_at, item.closed_at)


@dataclass(frozen=True)
class IncidentView:
    """An incident with its feature key, RCA items and whether its deadline was met: a value, not a row."""

    id: int
    title: str
    description: str | None
    severity: int
    ring: str | None
    dedup_key: str | None
    reporter: str
    caused_by: int | None
    opened_at: datetime
    deadline_at: datetime
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    restored_at: datetime | None
    escalated_at: datetime | None
    notified: str
    feature: str | None
    rca_items: tuple[RcaView, ...]
    deadline_met: bool | None

    @classmethod
    def of(
        cls, row: Incident, feature: str | None, items: Iterable[RcaItem], deadline_met: bool | None
    ) -> IncidentView:
        """Copy what a reader needs out of the rows."""
        return cls(
            id=row.id,
            title=row.title,
            description=row.description,
            severity=row.severity,
            ring=row.ring,
            dedup_key=row.dedup_key,
            reporter=row.reporter,
            caused_by=row.caused_by,
            opened_at=row.opened_at,
            deadline_at=row.deadline_at,
            acknowledged_at=row.acknowledged_at,
            resolved_at=row.resolved_at,
            restored_at=row.restored_at,
            escalated_at=row.escalated_at,
            notified=row.notified or "none",  # rows written before "none" was stored say None
            feature=feature,
            rca_items=tuple(RcaView.of(item) for item in items),
            deadline_met=deadline_met,
        )


def _feature(key: str | None) -> Feature | None:
    if key is None:
        return None
    feature = session().scalars(select(Feature).where(Feature.key == key, Feature.archived_at.is_(None))).first()
    if feature is None:
        raise InvalidInput(f"no feature {key!r}", errors={"feature": [f"no feature {key!r}"]})
    return feature


def _latest_deployment(feature_id: int, at: datetime) -> int | None:
    """The feature's latest deployment (into the last ring, or a raise there) at `at`."""
    return session().scalar(
        select(DeploymentEvent.id)
        .where(
            DeploymentEvent.feature_id == feature_id, DeploymentEvent.is_deployment.is_(True), DeploymentEvent.at <= at
        )
        .order_by(DeploymentEvent.id.desc())
        .limit(1)
    )


def _json(incident: Incident, feature: str | None) -> dict[str, Any]:
    return {
        "id": incident.id,
        "title": incident.title,
        "severity": incident.severity,
        "feature": feature,
        "ring": incident.ring,
        "caused_by": incident.caused_by,
    }


def open_incident(
    *,
    title: str,
    severity: int,
    feature: str | None,
    ring: str | None,
    description: str | None,
    dedup_key: str | None,
    actor: str,
) -> tuple[IncidentView, bool]:
    """Report an incident; with an open incident of the same dedup_key, return that one (False: not new)."""
    if dedup_key is not None:
        existing = _open_by_dedup(dedup_key)
        if existing is not None:
            return view(existing), False
    if ring is not None and rings().get(ring) is None:
        raise InvalidInput(f"unknown ring {ring!r}", errors={"ring": [f"must be one of {', '.join(rings().names)}"]})
    at = now()
    try:
        with transaction() as s:
            row = _feature(feature)
            incident = Incident(
                title=title,
                severity=severity,
                description=description,
                feature_id=row.id if row else None,
                ring=ring,
                dedup_key=dedup_key,
                reporter=actor,
                opened_at=at,
                deadline_at=policy.response_deadline(severity, at),
                notified=alerts.channel(severity),
                caused_by=_latest_deployment(row.id, at) if row else None,
            )
            s.add(incident)
            s.flush()
            audit(
                actor=actor,
                action="incident.open",
                target=f"incident:{incident.id}",
                feature=feature,
                before=None,
                after=_json(incident, feature),
                at=at,
            )
            alerts.alert(incident, feature)
            plan = plans.running_plan(row.id, severity) if row is not None else None
            if row is not None and policy.auto_kills(severity, rings().auto_kill_at_or_above):
                if not row.killed:
                    # a running plan is not paused by hand here: its on_incident decides, just below
                    reason = policy.auto_kill_reason(incident.id, severity)
                    kill_feature(row, reason=reason, actor=actor, at=at, pauses_plan=plan is None)
                incident.restored_at = at  # the flag is off: restored as of now
            if row is not None and plan is not None:  # after any auto-kill, as the contract orders them
                plans.apply_on_incident(row, plan, incident=incident.id, severity=severity, at=at)
    except Conflict:
        existing = _open_by_dedup(dedup_key) if dedup_key is not None else None
        if existing is None:
            raise
        return view(existing), False  # a concurrent report with the same dedup_key won
    return view(incident), True


def _open_by_dedup(dedup_key: str) -> Incident | None:
    return (
        session()
        .scalars(select(Incident).where(Incident.dedup_key == dedup_key, Incident.resolved_at.is_(None)))
        .first()
    )


def _incident(incident_id: int) -> Incident:
    incident = session().get(Incident, incident_id)
    if incident is None:
        raise NotFound(f"no incident {incident_id}")
    return incident


def view(incident: Incident) -> IncidentView:
    """The incident with its feature key, RCA items and deadline outcome."""
    items = tuple(session().scalars(select(RcaItem).where(RcaItem.incident_id == incident.id).order_by(RcaItem.id)))
    met = policy.deadline_met(incident.deadline_at, incident.acknowledged_at, incident.resolved_at, now())
    return IncidentView.of(incident, key_of(incident.feature_id), items, met)


def get_incident(incident_id: int) -> IncidentView:
    return view(_incident(incident_id))


def list_incidents(*, status: str | None, limit: int, before: int | None) -> list[IncidentView]:
    """Incidents newest first; status 'open' (not resolved) or 'resolved'."""
    query = select(Incident).order_by(Incident.id.desc()).limit(limit)
    if status == "open":
        query = query.where(Incident.resolved_at.is_(None))
    elif status == "resolved":
        query = query.where(Incident.resolved_at.is_not(None))
    if before is not None:
        query = query.where(Incident.id < before)
    rows = list(session().scalars(query))
    ids = [r.id for r in rows]
    items: dict[int, list[RcaItem]] = {i: [] for i in ids}
    for item in session().scalars(select(RcaItem).where(RcaItem.incident_id.in_(ids)).order_by(RcaItem.id)):
        items[item.incident_id].append(item)
    keys = dict(
        session()
        .execute(
            select(Feature.id, Feature.key).where(
                Feature.id.in_([r.feature_id for r in rows if r.feature_id is not None])
            )
        )
        .all()
    )
    at = now()
    return [
        IncidentView.of(
            r,
            keys.get(r.feature_id) if r.feature_id else None,
            items[r.id],
            policy.deadline_met(r.deadline_at, r.acknowledged_at, r.resolved_at, at),
        )
        for r in rows
    ]


_UNSET: Any = object()


def correct_incident(
    *, incident_id: int, actor: str, severity: int | None = None, feature: Any = _UNSET, caused_by: Any = _UNSET
) -> IncidentView:
    """Corrections during the RCA: severity, feature (re-attributed) and the deployment that caused it."""
    at = now()
    with transaction() as s:
        incident = _incident(incident_id)
        before = _json(incident, key_of(incident.feature_id))
        if severity is not None:
            incident.severity = severity
        if feature is not _UNSET:
            row = _feature(feature)
            incident.feature_id = row.id if row else None
            if caused_by is _UNSET:
                incident.caused_by = _latest_deployment(row.id, incident.opened_at) if row else None
        if caused_by is not _UNSET:
            if (
                caused_by is not None
                and s.scalar(
                    select(DeploymentEvent.id).where(DeploymentEvent.id == caused_by, DeploymentEvent.is_deployment)
                )
                is None
            ):
                raise InvalidInput(f"no deployment {caused_by}", errors={"caused_by": ["must name a deployment"]})
            incident.caused_by = caused_by
        after = _json(incident, key_of(incident.feature_id))
        if after == before:
            return view(incident)
        audit(
            actor=actor,
            action="incident.update",
            target=f"incident:{incident_id}",
            feature=after["feature"],
            before=before,
            after=after,
            at=at,
        )
    return view(incident)


def acknowledge(*, incident_id: int, actor: str) -> IncidentView:
    """Someone is on it: the response deadline is met if this is in time."""
    at = now()
    with transaction():
        incident = _incident(incident_id)
        if not changed(
            update(Incident)
            .where(Incident.id == incident_id, Incident.acknowledged_at.is_(None), Incident.resolved_at.is_(None))
            .values(acknowledged_at=at)
        ):
            raise Conflict(
                f"incident {incident_id} is already {'resolved' if incident.resolved_at else 'acknowledged'}"
            )
        session().refresh(incident)  # read back what the compare-and-set wrote
        key = key_of(incident.feature_id)
        audit(
            actor=actor,
            action="incident.ack",
            target=f"incident:{incident_id}",
            feature=key,
            before=None,
            after={"acknowledged_at": at.isoformat()},
            at=at,
        )
        alerts.alert(incident, key, action="acknowledge")
    return view(incident)


def resolve(*, incident_id: int, actor: str) -> IncidentView:
    """Resolved: restored now unless a kill restored it earlier. Resolving never revives a flag."""
    at = now()
    with transaction():
        incident = _incident(incident_id)
        if not changed(
            update(Incident)
            .where(Incident.id == incident_id, Incident.resolved_at.is_(None))
            .values(resolved_at=at, restored_at=func.coalesce(Incident.restored_at, at))
        ):
            raise Conflict(f"incident {incident_id} is already resolved")
        session().refresh(incident)
        key = key_of(incident.feature_id)
        audit(
            actor=actor,
            action="incident.resolve",
            target=f"incident:{incident_id}",
            feature=key,
            before=None,
            after={"resolved_at": at.isoformat()},
            at=at,
        )
        alerts.alert(incident, key, action="resolve")
    return view(incident)


def open_rca_item(*, incident_id: int, title: str, actor: str) -> RcaView:
    at = now()
    with transaction() as s:
        incident = _incident(incident_id)
        item = RcaItem(incident_id=incident.id, title=title, opened_at=at)
        s.add(item)
        s.flush()
        audit(
            actor=actor,
            action="rca.open",
            target=f"rca:{item.id}",
            feature=key_of(incident.feature_id),
            before=None,
            after={"incident": incident_id, "title": title},
            at=at,
        )
    return RcaView.of(item)


def close_rca_item(*, item_id: int, actor: str) -> RcaView:
    at = now()
    with transaction() as s:
        item = s.get(RcaItem, item_id)
        if item is None:
            raise NotFound(f"no RCA item {item_id}")
        if not changed(update(RcaItem).where(RcaItem.id == item_id, RcaItem.closed_at.is_(None)).values(closed_at=at)):
            raise Conflict(f"RCA item {item_id} is already closed")
        s.refresh(item)
        incident = _incident(item.incident_id)
        audit(
            actor=actor,
            action="rca.close",
            target=f"rca:{item_id}",
            feature=key_of(incident.feature_id),
            before=None,
            after={"closed_at": at.isoformat()},
            at=at,
        )
    return RcaView.of(item)
