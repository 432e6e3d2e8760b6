"""What the evidence says now, for the readers that judge criteria: the gate's facts, a feature's criteria,
the dashboard's chart. Each is one query, however many criteria ask."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, true

from gate.domain.evidence import EvidenceNeed, EvidenceSeen
from gate.models import CriterionRevision, Evidence
from gate.services.context import session


def need_of(rev: Any, latest: EvidenceSeen | None, build: str | None) -> EvidenceNeed | None:
    """The evidence part of a criterion revision (a row with `evidence` and `max_age_seconds`), or None."""
    if not rev.evidence:
        return None
    age = timedelta(seconds=rev.max_age_seconds) if rev.max_age_seconds else None
    return EvidenceNeed(max_age=age, build=build, latest=latest)


def latest_evidence(revision_ids: Any, build: str | None = None) -> dict[int, EvidenceSeen]:
    """The latest evidence of each revision (of `build` only, when given), in one query. Each revision's newest
    row is found by one backward probe of an index, so the cost follows the number of criteria, not of the
    evidence kept (10,000 rows cost what 10 do): PostgreSQL through a LATERAL join (else its planner hashes the
    whole table), SQLite through a correlated subquery, which it runs as such."""
    columns = (Evidence.passed, Evidence.detail, Evidence.build, Evidence.created_at)
    if session().get_bind().dialect.name == "postgresql":
        newest = select(*columns).where(Evidence.revision_id == CriterionRevision.id)
        if build is not None:
            newest = newest.where(Evidence.build == build)
        top = newest.order_by(Evidence.id.desc()).limit(1).lateral("newest")
        query = select(CriterionRevision.id.label("revision_id"), top).join(top, true())
        query = query.where(CriterionRevision.id.in_(revision_ids))
    else:
        probe = select(func.max(Evidence.id)).where(Evidence.revision_id == CriterionRevision.id)
        if build is not None:
            probe = probe.where(Evidence.build == build)
        ids = select(probe.correlate(CriterionRevision).scalar_subquery()).where(CriterionRevision.id.in_(revision_ids))
        query = select(Evidence.revision_id, *columns).where(Evidence.id.in_(ids))
    return {r.revision_id: EvidenceSeen(r.passed, r.detail, r.build, r.created_at) for r in session().execute(query)}


@dataclass(frozen=True)
class BuildPoint:
    """One build's evidence on a criterion, for the dashboard's chart."""

    build: str
    summary: dict[str, Any]
    passed: bool
    detail: str
    link: str | None
    at: datetime


def recent(revision_ids: list[int], per: int = 20) -> dict[int, list[BuildPoint]]:
    """The last `per` pieces of evidence of each revision, oldest first, in one query."""
    if not revision_ids:
        return {}
    ranked = select(
        Evidence.revision_id,
        Evidence.build,
        Evidence.summary,
        Evidence.passed,
        Evidence.detail,
        Evidence.link,
        Evidence.created_at,
        func.row_number().over(partition_by=Evidence.revision_id, order_by=Evidence.id.desc()).label("n"),
    ).where(Evidence.revision_id.in_(revision_ids))
    inner = ranked.subquery()
    points: dict[int, list[BuildPoint]] = defaultdict(list)
    for r in session().execute(select(inner).where(inner.c.n <= per).order_by(inner.c.revision_id, inner.c.n.desc())):
        points[r.revision_id].append(BuildPoint(r.build, dict(r.summary), r.passed, r.detail, r.link, r.created_at))
    return points
