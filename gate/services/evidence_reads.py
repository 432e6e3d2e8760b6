"""What the evidence says now, for the readers that judge criteria: the gate's facts, a feature's criteria,
the dashboard's chart. Each is one query, however many criteria ask."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from gate.domain.evidence import EvidenceNeed, EvidenceSeen
from gate.models import Evidence
from gate.services.context import session


def need_of(rev: Any, latest: EvidenceSeen | None, build: str | None) -> EvidenceNeed | None:
    """The evidence part of a criterion revision (a row with `evidence` and `max_age_seconds`), or None."""
    if not rev.evidence:
        return None
    age = timedelta(seconds=rev.max_age_seconds) if rev.max_age_seconds else None
    return EvidenceNeed(max_age=age, build=build, latest=latest)


def latest_evidence(revision_ids: Any, build: str | None = None) -> dict[int, EvidenceSeen]:
    """The latest evidence of each revision (of `build` only, when given), in one query."""
    newest = select(func.max(Evidence.id).label("id")).where(Evidence.revision_id.in_(revision_ids))
    if build is not None:
        newest = newest.where(Evidence.build == build)
    newest_ids = newest.group_by(Evidence.revision_id).subquery()
    rows = session().execute(
        select(Evidence.revision_id, Evidence.passed, Evidence.detail, Evidence.build, Evidence.created_at).join(
            newest_ids, newest_ids.c.id == Evidence.id
        )
    )
    return {r.revision_id: EvidenceSeen(r.passed, r.detail, r.build, r.created_at) for r in rows}


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
