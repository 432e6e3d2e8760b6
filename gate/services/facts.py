"""Gather what the gate needs to know about features: a constant number of queries for one or many."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import select

from gate.domain.gate import GateFacts, OpenItem, criterion_status
from gate.models import Bug, CriterionRevision, Feature, Incident, RcaItem, Vote
from gate.services.context import session
from gate.services.features import exposure_of, state_version


def gather_many(features: Sequence[Feature]) -> dict[int, GateFacts]:
    """Exposure, criteria, open incidents, bugs and RCA items of each feature, in five queries in all."""
    s = session()
    ids = [f.id for f in features]
    revisions: dict[int, list[CriterionRevision]] = defaultdict(list)
    for rev in s.scalars(
        select(CriterionRevision)
        .where(CriterionRevision.feature_id.in_(ids), CriterionRevision.retired_at.is_(None))
        .order_by(CriterionRevision.feature_id, CriterionRevision.position)
    ):
        revisions[rev.feature_id].append(rev)
    votes: dict[int, list[tuple[str, str]]] = defaultdict(list)
    revision_ids = [r.id for revs in revisions.values() for r in revs]
    for revision_id, voter, vote in s.execute(
        select(Vote.revision_id, Vote.voter, Vote.vote).where(Vote.revision_id.in_(revision_ids)).order_by(Vote.id)
    ):
        votes[revision_id].append((voter, vote))
    incidents: dict[int, list[OpenItem]] = defaultdict(list)
    bugs: dict[int, list[OpenItem]] = defaultdict(list)
    rca: dict[int, list[OpenItem]] = defaultdict(list)
    for incident_feature, i, title, severity in s.execute(
        select(Incident.feature_id, Incident.id, Incident.title, Incident.severity)
        .where(Incident.feature_id.in_(ids), Incident.resolved_at.is_(None))
        .order_by(Incident.id)
    ):
        incidents[int(incident_feature or 0)].append(OpenItem(i, title, severity))
    for bug_feature, i, title, bug_severity in s.execute(
        select(Bug.feature_id, Bug.id, Bug.title, Bug.severity)
        .where(Bug.feature_id.in_(ids), Bug.closed_at.is_(None))
        .order_by(Bug.id)
    ):
        bugs[bug_feature].append(OpenItem(i, title, bug_severity))
    for rca_feature, i, title in s.execute(
        select(Incident.feature_id, RcaItem.id, RcaItem.title)
        .join(Incident, Incident.id == RcaItem.incident_id)
        .where(Incident.feature_id.in_(ids), RcaItem.closed_at.is_(None))
        .order_by(RcaItem.id)
    ):
        rca[int(rca_feature or 0)].append(OpenItem(i, title))
    return {
        f.id: GateFacts(
            exposure=exposure_of(f),
            criteria=tuple(
                criterion_status(
                    id=r.criterion, ring=r.ring, required_yes=r.required_yes, revision=r.revision, votes=votes[r.id]
                )
                for r in revisions[f.id]
            ),
            open_incidents=tuple(incidents[f.id]),
            open_bugs=tuple(bugs[f.id]),
            open_rca_items=tuple(rca[f.id]),
        )
        for f in features
    }


def gather(feature: Feature) -> GateFacts:
    """One feature's gate facts."""
    return gather_many([feature])[feature.id]


def version() -> int:
    """The current snapshot version."""
    return state_version()
