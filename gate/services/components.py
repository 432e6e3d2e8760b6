"""Components and milestones (contract 8.3): each component's delivery read from the history of its criteria's
votes and evidence, the integration test that counts only what came after, the listing, and `component.late`
once per component, across workers and hosts."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import Boolean, literal_column, null, select, type_coerce, union_all

from gate.domain.components import (
    ComponentSpec,
    ComponentStatus,
    Happening,
    delivered_at,
    last_delivered,
    passing_since,
    ready_at,
)
from gate.domain.evidence import EvidenceSeen
from gate.domain.gate import CriterionStatus, latest_votes
from gate.errors import Conflict
from gate.models import ComponentEvent, CriterionRevision, Evidence, Feature, UTCDateTime, Vote
from gate.services.audit import audit
from gate.services.context import now, session
from gate.services.criteria import current_revisions
from gate.services.transactions import transaction

Spec = tuple[tuple[ComponentSpec, ...], str]


def _core() -> Any:
    """The session's connection, for reads of plain rows in bulk: the ORM's result processing would cost more
    than the queries themselves (thousands of criteria for a listing of a thousand features)."""
    return session().connection()


def spec_of(feature: Any) -> Spec | None:
    """A feature's components and integration criterion (a row or a Feature that carries both), or None."""
    if not feature.integration:
        return None
    return tuple(ComponentSpec.from_json(c) for c in feature.components), feature.integration


@dataclass(frozen=True)
class History:
    """Every vote and piece of evidence on some criterion revisions, in server order (by the time each was
    recorded; a vote first on a tie): one query."""

    happenings: dict[int, list[Happening]]
    evidence: dict[int, list[tuple[datetime, EvidenceSeen]]]

    @classmethod
    def of(cls, revision_ids: Sequence[int]) -> History:
        happenings: dict[int, list[Happening]] = defaultdict(list)
        evidence: dict[int, list[tuple[datetime, EvidenceSeen]]] = defaultdict(list)
        if not revision_ids:
            return cls(happenings, evidence)
        kind = literal_column
        both = union_all(
            select(
                Vote.revision_id,
                Vote.created_at.label("at"),
                kind("0").label("kind"),
                Vote.id,
                Vote.voter,
                Vote.vote,
                null().label("passed"),
                null().label("detail"),
                null().label("build"),
            ).where(Vote.revision_id.in_(revision_ids)),
            select(
                Evidence.revision_id,
                Evidence.created_at,
                kind("1"),
                Evidence.id,
                null(),
                null(),
                Evidence.passed,
                Evidence.detail,
                Evidence.build,
            ).where(Evidence.revision_id.in_(revision_ids)),
        ).subquery()
        ordered = select(
            both.c.revision_id,
            type_coerce(both.c.at, UTCDateTime).label("at"),
            both.c.kind,
            both.c.voter,
            both.c.vote,
            type_coerce(both.c.passed, Boolean).label("passed"),
            both.c.detail,
            both.c.build,
        ).order_by(both.c.revision_id, both.c.at, both.c.kind, both.c.id)
        for r in _core().execute(ordered):
            if int(r.kind) == 0:
                happenings[r.revision_id].append(Happening(r.at, r.voter, r.vote))
            else:
                happenings[r.revision_id].append(Happening(r.at, evidence_passed=r.passed))
                evidence[r.revision_id].append((r.at, EvidenceSeen(r.passed, r.detail, r.build, r.at)))
        return cls(happenings, evidence)


def statuses(specs: Sequence[ComponentSpec], since: Mapping[str, datetime | None]) -> tuple[ComponentStatus, ...]:
    """Each component with its delivery (`since`: when each criterion began to pass, None while it does not)."""
    return tuple(ComponentStatus(spec, delivered_at(spec, since)) for spec in specs)


def integration_status(
    status: CriterionStatus, rev: Any, history: History | None, components: Sequence[ComponentStatus]
) -> CriterionStatus:
    """The integration test counts only votes and evidence recorded after the last component's delivery
    (`history`: the integration revision's, read only once every component is delivered)."""
    ready = ready_at(components)
    if ready is None or history is None:
        waiting = ", ".join(c.spec.id for c in components if c.delivered_at is None)
        return status._replace(
            yes=(),
            no=(),
            evidence=replace(status.evidence, latest=None) if status.evidence else None,
            note=f"counts only once every component is delivered ({waiting} not yet)",
        )
    happened = history.happenings.get(rev.id, [])
    votes = latest_votes(((h.voter, h.vote, h.at) for h in happened if h.voter is not None), lambda v: str(v[0]))
    after = {voter: vote for voter, (_, vote, at) in votes.items() if at > ready}
    stale = sum(1 for voter, (_, vote, at) in votes.items() if at <= ready and vote == "yes")
    fresh = [seen for at, seen in history.evidence.get(rev.id, []) if at > ready]
    older = len(history.evidence.get(rev.id, [])) - len(fresh)
    last = last_delivered(components)
    assert last is not None
    predate = []
    if stale:
        predate.append(f"{stale} yes vote{'s' if stale != 1 else ''}")
    if older and not fresh:
        predate.append("its evidence")
    note = ""
    if predate:
        verb = "predates" if predate == ["its evidence"] or (stale == 1 and not older) else "predate"
        note = f"{' and '.join(predate)} {verb} the delivery of {last.spec.id} on {ready:%Y-%m-%d}: test again"
    return status._replace(
        yes=tuple(sorted(v for v, vote in after.items() if vote == "yes")),
        no=tuple(sorted(v for v, vote in after.items() if vote == "no")),
        evidence=replace(status.evidence, latest=fresh[-1] if fresh else None) if status.evidence else None,
        note=note,
    )


# ---- the listing --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ComponentView:
    """A component as the listing shows it."""

    feature: str
    id: str
    team: str
    due: date
    contract: str | None
    delivered_at: datetime | None
    late: bool
    days_late: int


def listing(*, team: str | None = None, late: bool | None = None, feature: str | None = None) -> list[ComponentView]:
    """Every component of every live feature (or one feature's), in feature and file order: two queries, the
    features and when each of their passing criteria began to pass (kept on the revision at each vote)."""
    at = now()
    query = select(Feature.id, Feature.key, Feature.components, Feature.integration).where(
        Feature.archived_at.is_(None), Feature.integration.is_not(None)
    )
    if feature is not None:
        query = query.where(Feature.key == feature)
    rows = _core().execute(query.order_by(Feature.key)).all()
    if not rows:
        return []
    ids: Any = [r.id for r in rows] if len(rows) <= 50 else query.with_only_columns(Feature.id).scalar_subquery()
    since: dict[int, dict[str, datetime]] = defaultdict(dict)
    for fid, criterion, began in _core().execute(
        select(CriterionRevision.feature_id, CriterionRevision.criterion, CriterionRevision.passing_since).where(
            CriterionRevision.feature_id.in_(ids),
            CriterionRevision.retired_at.is_(None),
            CriterionRevision.passing_since.is_not(None),
        )
    ):
        since[fid][criterion] = began
    out = []
    for row in rows:
        specs, _ = spec_of(row)  # type: ignore[misc]
        for c in statuses(specs, since[row.id]):
            view = ComponentView(
                row.key,
                c.spec.id,
                c.spec.team,
                c.spec.due,
                c.spec.contract,
                c.delivered_at,
                c.late(at),
                c.days_late(at),
            )
            if (team is None or view.team == team) and (late is None or view.late == late):
                out.append(view)
    return out


# ---- audits and the late event --------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    """A feature's components as a change found them: their specs, and when each current criterion began to
    pass (its revision's `passing_since`)."""

    feature: Any
    specs: tuple[ComponentSpec, ...]
    since: dict[str, datetime | None]


def before_change(feature: Any) -> Delivery | None:
    """Before a vote or evidence on a feature with components: lock its row (so that concurrent votes on two
    hosts take turns: each folds a history that holds the other's, and each delivery is audited once), and read
    its components' delivery."""
    spec = spec_of(feature)
    if spec is None:
        return None
    session().execute(select(Feature.id).where(Feature.id == feature.id).with_for_update())
    # rows read after the lock, not ORM objects: those the session loaded before it would keep what they held
    # then, without a concurrent vote's fold that committed meanwhile
    rows = _core().execute(
        select(CriterionRevision.criterion, CriterionRevision.passing_since).where(
            CriterionRevision.feature_id == feature.id, CriterionRevision.retired_at.is_(None)
        )
    )
    since = {criterion: began for criterion, began in rows}
    return Delivery(feature, spec[0], since)


def after_change(found: Delivery | None, revision: Any, actor: str, at: datetime) -> None:
    """After a vote or evidence on `revision`, in the caller's transaction: fold the revision's history again,
    keep when it began to pass, and audit each component that this delivered or undelivered."""
    if found is None:
        return
    began = _fold(revision, History.of([revision.id]))
    after = {**found.since, revision.criterion: began}
    was = {c.spec.id: c.delivered_at for c in statuses(found.specs, found.since)}
    feature = found.feature
    for c in statuses(found.specs, after):
        if (was.get(c.spec.id) is None) != (c.delivered_at is None):
            action = "component.deliver" if c.delivered_at is not None else "component.regress"
            audit(
                actor=actor,
                action=action,
                target=f"component:{feature.key}/{c.spec.id}",
                feature=feature.key,
                before={"delivered_at": _iso(was.get(c.spec.id))},
                after={"delivered_at": _iso(c.delivered_at), "team": c.spec.team, "due": c.spec.due.isoformat()},
                at=at,
            )


def refresh(feature: Any) -> None:
    """After a product file is applied: fold again when each current criterion of a feature with components
    began to pass (components may be new to criteria voted on long ago)."""
    if spec_of(feature) is None:
        return
    revisions = current_revisions(feature.id)
    history = History.of([r.id for r in revisions])
    for revision in revisions:
        _fold(revision, history)


def _fold(revision: Any, history: History) -> datetime | None:
    """When the revision began to pass, from its history; kept on the revision."""
    began = passing_since(revision.required_yes, revision.evidence is not None, history.happenings.get(revision.id, ()))
    revision.passing_since = began
    return began


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def announce_late() -> int:
    """Send `component.late` for each component that became late: once, whichever worker or host sees it first
    (a unique row per feature, component and due day decides), in the transaction that queues the webhook."""
    at, sent = now(), 0
    told = set(session().execute(select(ComponentEvent.feature_id, ComponentEvent.component, ComponentEvent.due)))
    ids = {
        r[0]: r[1] for r in session().execute(select(Feature.key, Feature.id).where(Feature.integration.is_not(None)))
    }
    for view in listing(late=True):
        if (ids.get(view.feature), view.id, view.due.isoformat()) in told:
            continue
        try:
            with transaction() as s:
                due = view.due.isoformat()
                s.add(ComponentEvent(feature_id=ids[view.feature], component=view.id, due=due, kind="late", at=at))
                s.flush()
                audit(
                    actor="gate",
                    action="component.late",
                    target=f"component:{view.feature}/{view.id}",
                    feature=view.feature,
                    before=None,
                    after={"team": view.team, "due": view.due.isoformat(), "days_late": view.days_late},
                    at=at,
                )
            sent += 1
        except Conflict:
            continue  # announced already, on another worker or host
    return sent
