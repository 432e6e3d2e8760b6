"""QA votes on criteria."""

from __future__ import annotations

from sqlalchemy import select

from gate.errors import NotFound
from gate.models import CriterionRevision, Vote
from gate.services.audit import audit
from gate.services.context import now, session
from gate.services.features import find_feature
from gate.services.transactions import transaction


def _current_revision(feature_id: int, criterion: str) -> CriterionRevision:
    revision = (
        session()
        .scalars(
            select(CriterionRevision).where(
                CriterionRevision.feature_id == feature_id,
                CriterionRevision.criterion == criterion,
                CriterionRevision.retired_at.is_(None),
            )
        )
        .first()
    )
    if revision is None:
        raise NotFound(f"no criterion {criterion!r} on this feature")
    return revision


def cast_vote(*, key: str, criterion: str, vote: str, comment: str | None, actor: str) -> tuple[Vote, int]:
    """Record `actor`'s vote on the criterion's current revision; return it with the revision number."""
    at = now()
    with transaction() as s:
        feature = find_feature(key)
        revision = _current_revision(feature.id, criterion)
        row = Vote(revision_id=revision.id, voter=actor, vote=vote, comment=comment, created_at=at)
        s.add(row)
        s.flush()
        audit(
            actor=actor,
            action="vote",
            target=f"criterion:{key}/{criterion}",
            feature=key,
            before=None,
            after={"vote": vote, "comment": comment, "revision": revision.revision, "id": row.id},
            at=at,
        )
    return row, revision.revision


def vote_history(*, key: str, criterion: str, limit: int, before: int | None) -> list[tuple[Vote, int, bool]]:
    """Every vote on the criterion, all revisions, newest first: (vote, revision, counts now)."""
    feature = find_feature(key)
    revisions = {
        r.id: r
        for r in session().scalars(
            select(CriterionRevision).where(
                CriterionRevision.feature_id == feature.id, CriterionRevision.criterion == criterion
            )
        )
    }
    if not revisions:
        raise NotFound(f"no criterion {criterion!r} on this feature")
    query = select(Vote).where(Vote.revision_id.in_(list(revisions))).order_by(Vote.id.desc()).limit(limit)
    if before is not None:
        query = query.where(Vote.id < before)
    votes = list(session().scalars(query))
    return [(v, revisions[v.revision_id].revision, revisions[v.revision_id].retired_at is None) for v in votes]
