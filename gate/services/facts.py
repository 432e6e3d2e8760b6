"""Gather what the gate needs to know about a feature, in a constant number of queries."""

from __future__ import annotations

from sqlalchemy import select

from gate.domain.gate import GateFacts, OpenItem
from gate.models import Bug, Feature, Incident, RcaItem
from gate.services.context import session
from gate.services.features import criterion_statuses, current_revisions, exposure_of, state_version


def gather(feature: Feature) -> GateFacts:
    """Exposure, criteria, open incidents, open bugs and open RCA items: five queries, whatever the size."""
    s = session()
    incidents = s.execute(
        select(Incident.id, Incident.title, Incident.severity)
        .where(Incident.feature_id == feature.id, Incident.resolved_at.is_(None))
        .order_by(Incident.id)
    )
    bugs = s.execute(
        select(Bug.id, Bug.title, Bug.severity)
        .where(Bug.feature_id == feature.id, Bug.closed_at.is_(None))
        .order_by(Bug.id)
    )
    rca = s.execute(
        select(RcaItem.id, RcaItem.title)
        .join(Incident, Incident.id == RcaItem.incident_id)
        .where(Incident.feature_id == feature.id, RcaItem.closed_at.is_(None))
        .order_by(RcaItem.id)
    )
    return GateFacts(
        exposure=exposure_of(feature),
        criteria=criterion_statuses(current_revisions(feature.id)),
        open_incidents=tuple(OpenItem(i, t, sev) for i, t, sev in incidents),
        open_bugs=tuple(OpenItem(i, t, sev) for i, t, sev in bugs),
        open_rca_items=tuple(OpenItem(i, t) for i, t in rca),
    )


def version() -> int:
    """The current snapshot version."""
    return state_version()
