"""Incidents' alerts: the page or e-mail each severity calls for, queued in the outbox, and the one escalation
of an alerted incident nobody acknowledged by its deadline."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update

from gate.domain import incidents as policy
from gate.models import Incident
from gate.services.context import alerting as current_alerting
from gate.services.context import now, session
from gate.services.features import key_of
from gate.services.outbox import enqueue
from gate.services.transactions import changed


def dedup_key(incident: Incident) -> str:
    return f"gate-incident-{incident.id}"


def alert(incident: Incident, feature: str | None, *, action: str = "trigger", escalation: bool = False) -> None:
    """Queue the page or e-mail this incident's severity calls for (when that channel is configured)."""
    alerting = current_alerting()
    kind = incident.notified
    where = f" on {feature}" + (f" in {incident.ring}" if incident.ring else "") if feature else ""
    prefix = "ESCALATION: not acknowledged by its deadline. " if escalation else ""
    summary = f"{prefix}[SEV{incident.severity}] #{incident.id} {incident.title}{where}"
    details = {
        "incident": incident.id,
        "feature": feature,
        "ring": incident.ring,
        "severity": incident.severity,
        "deadline": incident.deadline_at.isoformat(),
        "description": incident.description,
    }
    alerts = []
    if kind == "page" and alerting.pages:
        if action == "trigger":
            keys = [dedup_key(incident) + ("-escalation" if escalation else "")]
        else:  # acknowledge or resolve both pages, the escalation's too
            keys = [dedup_key(incident)] + ([dedup_key(incident) + "-escalation"] if incident.escalated_at else [])
        routing_key = alerting.pager_routing_key
        alerts = [
            policy.page(
                routing_key=routing_key,
                action=action,
                dedup_key=key,
                summary=summary,
                severity=incident.severity,
                source="gate",
                details=details,
            )
            for key in keys
        ]
    elif kind == "email" and action == "trigger" and alerting.emails:
        lines = [summary, "", f"Respond by {incident.deadline_at:%Y-%m-%d %H:%M} UTC."]
        if incident.description:
            lines += ["", incident.description]
        alerts = [policy.email(subject=summary, text="\n".join(lines))]
    if not alerts:
        return
    for alert in alerts:
        enqueue(alert.kind, alert.body, incident_id=incident.id, at=now())


def channel(severity: int) -> str:
    """The channel an incident this severe is told on: 'page', 'email', or 'none' when that one is not set up."""
    alerting = current_alerting()
    kind = policy.notification(severity)
    if kind == "page" and alerting.pages:
        return "page"
    if kind == "email" and alerting.emails:
        return "email"
    return "none"


def escalate_overdue(at: datetime) -> None:
    """Page (or e-mail) again for each alerted incident not acknowledged by its deadline, once."""
    s = session()
    overdue = s.scalars(
        select(Incident).where(
            Incident.notified.in_(("page", "email")),
            Incident.acknowledged_at.is_(None),
            Incident.resolved_at.is_(None),
            Incident.escalated_at.is_(None),
            Incident.deadline_at <= at,
        )
    ).all()
    for incident in overdue:
        if changed(
            update(Incident).where(Incident.id == incident.id, Incident.escalated_at.is_(None)).values(escalated_at=at)
        ):
            alert(incident, key_of(incident.feature_id), escalation=True)
        s.commit()
