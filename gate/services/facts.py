"""Gather what the gate needs to know about features: a constant number of queries for one or many."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, literal_column, null, select, union_all

from gate.domain.components import ComponentStatus, ready_at
from gate.domain.gate import CriterionStatus, GateFacts, OpenItem
from gate.models import Bug, CriterionRevision, Feature, Incident, RcaItem, Vote
from gate.services import components
from gate.services.context import session
from gate.services.evidence_reads import latest_evidence, need_of
from gate.services.features import exposure_of


def gather_many(features: Sequence[Any], among: Any = None, build: str | None = None) -> dict[int, GateFacts]:
    """Exposure, criteria with their votes and evidence, open incidents, bugs and RCA items of each feature (rows
    or Feature objects), in at most six queries in all. `among`: a select of feature ids that holds them all,
    for many features (default: every live one). `build`: judge the evidence of that build only."""
    if not features:  # nothing to ask about (no plan running: what each worker's plan check meets most)
        return {}
    # many features: a subquery, not thousands of bound ids (what the board asks for: every live feature)
    if among is None:
        among = select(Feature.id).where(Feature.archived_at.is_(None))
    ids: Any = among.scalar_subquery() if len(features) > 50 else [f.id for f in features]
    revisions, voters = _revisions(ids), _voters(ids)
    asking = [r.id for rs in revisions.values() for r in rs if r.evidence]
    # many: a subquery (what _voters asks by too), not thousands of bound ids
    seen = latest_evidence(asking if len(asking) <= 50 else _current(ids), build) if asking else {}
    incidents, bugs, rca = _open_items(ids)
    parts_of = _components(features, revisions)
    out = {}
    for f in features:
        criteria = tuple(
            CriterionStatus(
                id=r.criterion,
                ring=r.ring,
                required_yes=r.required_yes,
                revision=r.revision,
                yes=voters.get((r.id, "yes"), ()),
                no=voters.get((r.id, "no"), ()),
                evidence=need_of(r, seen.get(r.id), build),
            )
            for r in revisions[f.id]
        )
        parts, integration, history = parts_of.get(f.id, ((), None, None))
        if integration is not None:
            rev = next(r for r in revisions[f.id] if r.criterion == integration)
            criteria = tuple(
                components.integration_status(c, rev, history, parts) if c.id == integration else c for c in criteria
            )
        out[f.id] = GateFacts(
            exposure=exposure_of(f),
            criteria=criteria,
            open_incidents=tuple(incidents[f.id]),
            open_bugs=tuple(bugs[f.id]),
            open_rca_items=tuple(rca[f.id]),
            components=parts,
            integration=integration,
        )
    return out


Parts = tuple[tuple[ComponentStatus, ...], str | None, components.History | None]


def _components(features: Sequence[Any], revisions: dict[int, list[Any]]) -> dict[int, Parts]:
    """Each feature's components with their delivery (from when each criterion began to pass, kept on its
    revision), its integration criterion, and that criterion's history once every component is delivered (one
    query for them all, and none while a component is missing)."""
    found: dict[int, tuple[tuple[ComponentStatus, ...], str]] = {}
    for f in features:
        spec = components.spec_of(f)
        if spec is not None:
            since = {r.criterion: r.passing_since for r in revisions[f.id]}
            found[f.id] = (components.statuses(spec[0], since), spec[1])
    ready = [
        r.id
        for fid, (parts, integration) in found.items()
        if ready_at(parts) is not None
        for r in revisions[fid]
        if r.criterion == integration
    ]
    history = components.History.of(ready) if ready else None
    return {fid: (parts, integration, history) for fid, (parts, integration) in found.items()}


def _revisions(ids: Any) -> dict[int, list[Any]]:
    """The current criterion revisions of each feature, in file order: plain rows, not ORM objects (the board
    gathers thousands of criteria at once)."""
    revisions: dict[int, list[Any]] = defaultdict(list)
    for rev in session().execute(
        select(
            CriterionRevision.feature_id,
            CriterionRevision.id,
            CriterionRevision.criterion,
            CriterionRevision.ring,
            CriterionRevision.required_yes,
            CriterionRevision.revision,
            CriterionRevision.evidence,
            CriterionRevision.max_age_seconds,
            CriterionRevision.passing_since,
        )
        .where(CriterionRevision.feature_id.in_(ids), CriterionRevision.retired_at.is_(None))
        .order_by(CriterionRevision.feature_id, CriterionRevision.position)
    ):
        revisions[rev.feature_id].append(rev)
    return revisions


def _current(ids: Any) -> Any:
    """The ids of the current criterion revisions of these features, as a subquery."""
    return (
        select(CriterionRevision.id)
        .where(CriterionRevision.feature_id.in_(ids), CriterionRevision.retired_at.is_(None))
        .scalar_subquery()
    )


def _voters(ids: Any) -> dict[tuple[int, str], tuple[str, ...]]:
    """Each voter's latest vote per current revision, folded in SQL into its yes and its no voters."""
    s = session()
    latest = (
        select(func.max(Vote.id).label("id"))
        .where(Vote.revision_id.in_(_current(ids)))
        .group_by(Vote.revision_id, Vote.voter)
        .subquery()
    )
    separator = "\x1f"
    names = (
        func.string_agg(Vote.voter, separator)
        if s.get_bind().dialect.name == "postgresql"
        else func.group_concat(Vote.voter, separator)
    )
    voters: dict[tuple[int, str], tuple[str, ...]] = {}
    for revision_id, vote, joined in s.execute(
        select(Vote.revision_id, Vote.vote, names)
        .join(latest, latest.c.id == Vote.id)
        .group_by(Vote.revision_id, Vote.vote)
    ):
        voters[(revision_id, vote)] = tuple(sorted(joined.split(separator)))
    return voters


Items = dict[int, list[OpenItem]]


def _open_items(ids: Any) -> tuple[Items, Items, Items]:
    """The open incidents, open bugs and open RCA items of each feature, oldest first: one query, a union of
    the three (the gate asks on every promote; each round trip counts)."""
    incidents: Items = defaultdict(list)
    bugs: Items = defaultdict(list)
    rca: Items = defaultdict(list)
    kind = literal_column
    union = union_all(
        select(kind("1").label("kind"), Incident.feature_id, Incident.id, Incident.title, Incident.severity).where(
            Incident.feature_id.in_(ids), Incident.resolved_at.is_(None)
        ),
        select(kind("2"), Bug.feature_id, Bug.id, Bug.title, Bug.severity).where(
            Bug.feature_id.in_(ids), Bug.closed_at.is_(None)
        ),
        select(kind("3"), Incident.feature_id, RcaItem.id, RcaItem.title, null())
        .join(Incident, Incident.id == RcaItem.incident_id)
        .where(Incident.feature_id.in_(ids), RcaItem.closed_at.is_(None)),
    ).subquery()
    into = {1: incidents, 2: bugs, 3: rca}
    for which, feature_id, i, title, severity in session().execute(select(union).order_by(union.c.kind, union.c.id)):
        into[int(which)][int(feature_id or 0)].append(OpenItem(i, title, severity))
    return incidents, bugs, rca


def gather(feature: Feature, build: str | None = None) -> GateFacts:
    """One feature's gate facts (judging the evidence of `build` only, when given)."""
    return gather_many([feature], build=build)[feature.id]
