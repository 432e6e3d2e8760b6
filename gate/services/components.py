"""Components and milestones (contract 8.3): each component's delivery read from the history of its criteria's
votes and evidence, the integration test that counts only what came after, the listing, and `component.late`
once per component, across workers and hosts."""

from __future__ import annotations

import heapq
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, select

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
from gate.models import ComponentEvent, CriterionRevision, Evidence, Feature, Vote
from gate.services.audit import audit
from gate.services.context import now, session
from gate.services.transactions import transaction

Specs = dict[int, tuple[tuple[ComponentSpec, ...], str]]


def _core() -> Any:
    """The session's connection, for reads of plain rows in bulk: the ORM's result processing would cost more
    than the queries themselves (thousands of votes for a listing of a thousand features)."""
    return session().connection()


def specs_of(ids: Any) -> Specs:
    """The components and integration criterion of each of these features that has components: one query."""
    rows = _core().execute(
        select(Feature.id, Feature.components, Feature.integration).where(
            Feature.id.in_(ids), Feature.integration.is_not(None)
        )
    )
    return {r.id: (tuple(ComponentSpec.from_json(c) for c in r.components), r.integration) for r in rows}


@dataclass(frozen=True)
class History:
    """Every vote and piece of evidence on some criterion revisions, in server order: two queries."""

    happenings: dict[int, list[Happening]]
    evidence: dict[int, list[tuple[datetime, EvidenceSeen]]]

    @classmethod
    def of(cls, revision_ids: Any) -> History:
        votes: dict[int, list[Happening]] = defaultdict(list)
        for r in _core().execute(
            select(Vote.revision_id, Vote.created_at, Vote.voter, Vote.vote)
            .where(Vote.revision_id.in_(revision_ids))
            .order_by(Vote.revision_id, Vote.created_at, Vote.id)
        ):
            votes[r.revision_id].append(Happening(r.created_at, r.voter, r.vote))
        reports: dict[int, list[Happening]] = defaultdict(list)
        evidence: dict[int, list[tuple[datetime, EvidenceSeen]]] = defaultdict(list)
        for e in _core().execute(
            select(Evidence.revision_id, Evidence.created_at, Evidence.passed, Evidence.detail, Evidence.build)
            .where(Evidence.revision_id.in_(revision_ids))
            .order_by(Evidence.revision_id, Evidence.created_at, Evidence.id)
        ):
            reports[e.revision_id].append(Happening(e.created_at, evidence_passed=e.passed))
            evidence[e.revision_id].append((e.created_at, EvidenceSeen(e.passed, e.detail, e.build, e.created_at)))
        happenings: dict[int, list[Happening]] = dict(votes)
        for revision, found in reports.items():  # votes and evidence in one order, by time (votes first on a tie)
            cast = happenings.get(revision)
            happenings[revision] = list(heapq.merge(cast, found, key=_at)) if cast else found
        return cls(happenings, evidence)


def _at(happening: Happening) -> datetime:
    return happening.at


def statuses(
    specs: Sequence[ComponentSpec], revisions: dict[str, Any], history: History
) -> tuple[ComponentStatus, ...]:
    """Each component with its delivery, from the history of its criteria (`revisions`: id → current revision)."""
    since: dict[str, datetime | None] = {}
    for spec in specs:
        for name in spec.criteria:
            rev = revisions.get(name)
            if rev is not None and name not in since:
                since[name] = passing_since(rev.required_yes, bool(rev.evidence), history.happenings.get(rev.id, ()))
    return tuple(ComponentStatus(spec, delivered_at(spec, since)) for spec in specs)


def integration_status(
    status: CriterionStatus, rev: Any, history: History, components: Sequence[ComponentStatus]
) -> CriterionStatus:
    """The integration test counts only votes and evidence recorded after the last component's delivery."""
    ready = ready_at(components)
    if ready is None:
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
    """Every component of every live feature (or one feature's), in feature and file order. Each worker keeps the
    deliveries it computed, each under its feature's fingerprint (the product file's time, the newest vote and
    the newest evidence on its current criteria): three queries find what changed, four more read only that."""
    at = now()
    query = select(Feature.id, Feature.key, Feature.updated_at).where(
        Feature.archived_at.is_(None), Feature.integration.is_not(None)
    )
    if feature is not None:
        query = query.where(Feature.key == feature)
    rows = _core().execute(query.order_by(Feature.key)).all()
    if not rows:
        return []
    ids: Any = [r.id for r in rows] if len(rows) <= 50 else query.with_only_columns(Feature.id).scalar_subquery()
    found = _cached(rows, ids)
    out = []
    for row in rows:
        for c in found.get(row.id, ()):
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


_KNOWN: dict[tuple[str, int], tuple[tuple[Any, ...], tuple[ComponentStatus, ...]]] = {}


def _cached(rows: Sequence[Any], ids: Any) -> dict[int, tuple[ComponentStatus, ...]]:
    """The deliveries of these features: from this worker's memory where the fingerprint still matches."""
    store = str(session().get_bind().engine.url)  # one memory per database: a worker serves one, tests many
    current = (
        select(CriterionRevision.id, CriterionRevision.feature_id)
        .where(CriterionRevision.feature_id.in_(ids), CriterionRevision.retired_at.is_(None))
        .subquery()
    )
    newest = {}
    for table in (Vote, Evidence):
        newest[table] = dict(
            _core()
            .execute(
                select(current.c.feature_id, func.max(table.id))
                .join(current, current.c.id == table.revision_id)
                .group_by(current.c.feature_id)
            )
            .all()
        )
    prints = {r.id: (r.updated_at, newest[Vote].get(r.id), newest[Evidence].get(r.id)) for r in rows}
    out, stale = {}, []
    for fid, fingerprint in prints.items():
        known = _KNOWN.get((store, fid))
        if known is not None and known[0] == fingerprint:
            out[fid] = known[1]
        else:
            stale.append(fid)
    if stale:
        fresh = found_statuses(stale if len(stale) <= 50 else ids)
        for fid in stale:
            out[fid] = fresh.get(fid, ())
            _KNOWN[(store, fid)] = (prints[fid], out[fid])
    return out


def found_statuses(ids: Any) -> dict[int, tuple[ComponentStatus, ...]]:
    """The components of these features with their delivery: four queries, however many."""
    specs = specs_of(ids)
    if not specs:
        return {}
    revisions: dict[int, dict[str, Any]] = defaultdict(dict)
    for rev in _core().execute(
        select(
            CriterionRevision.feature_id,
            CriterionRevision.id,
            CriterionRevision.criterion,
            CriterionRevision.required_yes,
            CriterionRevision.evidence.is_not(None).label("evidence"),  # whether it asks, without parsing it
        ).where(CriterionRevision.feature_id.in_(ids), CriterionRevision.retired_at.is_(None))
    ):
        revisions[rev.feature_id][rev.criterion] = rev
    current = select(CriterionRevision.id).where(
        CriterionRevision.feature_id.in_(ids), CriterionRevision.retired_at.is_(None)
    )
    history = History.of(current.scalar_subquery())
    return {fid: statuses(found, revisions[fid], history) for fid, (found, _) in specs.items()}


# ---- audits and the late event --------------------------------------------------------------------------


def before_change(feature: Any) -> tuple[ComponentStatus, ...]:
    """Before a vote or evidence on a feature with components: lock its row (so that concurrent votes on two
    hosts take turns, and each delivery is audited once), and read its components' delivery."""
    if not feature.integration:
        return ()
    session().execute(select(Feature.id).where(Feature.id == feature.id).with_for_update())
    return found_statuses([feature.id]).get(feature.id, ())


def audit_deliveries(feature: Any, before: tuple[ComponentStatus, ...], actor: str, at: datetime) -> None:
    """After a vote or evidence in the caller's transaction: audit each component it delivered or undelivered."""
    after = found_statuses([feature.id]).get(feature.id, ())
    was = {c.spec.id: c.delivered_at for c in before}
    for c in after:
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
