"""Criterion revisions: a feature's current ones, a criterion's current one, which votes and evidence attach
to, and all of a criterion's, which their history spans."""

from __future__ import annotations

from sqlalchemy import select

from gate.errors import NotFound
from gate.models import CriterionRevision
from gate.services.context import session


def current_revisions(feature_id: int) -> list[CriterionRevision]:
    """The feature's criteria at their current revision, in file order."""
    return list(
        session().scalars(
            select(CriterionRevision)
            .where(CriterionRevision.feature_id == feature_id, CriterionRevision.retired_at.is_(None))
            .order_by(CriterionRevision.position)
        )
    )


def current_revision(feature_id: int, criterion: str) -> CriterionRevision:
    """A criterion's current revision, or NotFound: what votes and evidence attach to."""
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


def every_revision(feature_id: int, criterion: str) -> dict[int, CriterionRevision]:
    """Every revision of a criterion by id (its history of votes and evidence spans them), or NotFound."""
    revisions = {
        r.id: r
        for r in session().scalars(
            select(CriterionRevision).where(
                CriterionRevision.feature_id == feature_id, CriterionRevision.criterion == criterion
            )
        )
    }
    if not revisions:
        raise NotFound(f"no criterion {criterion!r} on this feature")
    return revisions
