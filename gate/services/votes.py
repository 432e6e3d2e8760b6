"""QA votes on criteria."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from gate.models import Vote
from gate.services import components
from gate.services.audit import audit
from gate.services.context import now, session
from gate.services.criteria import current_revision, every_revision
from gate.services.features import find_feature
from gate.services.transactions import transaction


@dataclass(frozen=True)
class VoteView:
    """One vote as readers see it: on which revision, and whether that revision still counts."""

    id: int
    feature: str
    criterion: str
    revision: int
    current_revision: bool
    voter: str
    vote: str
    comment: str | None
    at: datetime

    @classmethod
    def of(cls, row: Vote, *, feature: str, criterion: str, revision: int, current: bool) -> VoteView:
        return cls(row.id, feature, criterion, revision, current, row.voter, row.vote, row.comment, row.created_at)


def cast_vote(*, key: str, criterion: str, vote: str, comment: str | None, actor: str) -> VoteView:
    """Record `actor`'s vote on the criterion's current revision."""
    at = now()
    with transaction() as s:
        feature = find_feature(key)
        revision = current_revision(feature.id, criterion)
        parts = components.before_change(feature)
        row = Vote(revision_id=revision.id, voter=actor, vote=vote, comment=comment, created_at=at)
        s.add(row)
        s.flush()
        components.after_change(parts, revision, actor, at)
        audit(
            actor=actor,
            action="vote",
            target=f"criterion:{key}/{criterion}",
            feature=key,
            before=None,
            after={"vote": vote, "comment": comment, "revision": revision.revision, "id": row.id},
            at=at,
        )
    return VoteView.of(row, feature=key, criterion=criterion, revision=revision.revision, current=True)


def vote_history(*, key: str, criterion: str, limit: int, before: int | None) -> list[VoteView]:
    """Every vote on the criterion, all revisions, newest first."""
    feature = find_feature(key)
    revisions = every_revision(feature.id, criterion)
    query = select(Vote).where(Vote.revision_id.in_(list(revisions))).order_by(Vote.id.desc()).limit(limit)
    if before is not None:
        query = query.where(Vote.id < before)
    votes = list(session().scalars(query))
    return [
        VoteView.of(
            v,
            feature=key,
            criterion=criterion,
            revision=revisions[v.revision_id].revision,
            current=revisions[v.revision_id].retired_at is None,
        )
        for v in votes
    ]
