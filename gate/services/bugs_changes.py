"""Bugs (for zero bug bounce) and changes (for lead time), reported per feature."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from gate.errors import Conflict, InvalidInput, NotFound
from gate.models import Bug, Change, Feature
from gate.services.audit import audit
from gate.services.context import now, session
from gate.services.features import find_feature
from gate.services.transactions import changed, transaction
from gate.services.values import copy_row


@dataclass(frozen=True)
class BugView:
    """A bug on a feature; an open one blocks the last ring's zero-bug check."""

    id: int
    feature: str
    title: str
    severity: int | None
    description: str | None
    reporter: str
    opened_at: datetime
    closed_at: datetime | None

    @property
    def status(self) -> str:
        return "closed" if self.closed_at else "open"


@dataclass(frozen=True)
class ChangeView:
    """A reported commit; `deployed_at` is set by the feature's first deployment after it."""

    id: int
    feature: str
    sha: str
    committed_at: datetime
    reported_at: datetime
    deployed_at: datetime | None


def open_bug(*, key: str, title: str, severity: int | None, description: str | None, actor: str) -> BugView:
    at = now()
    with transaction() as s:
        feature = find_feature(key)
        bug = Bug(
            feature_id=feature.id, title=title, severity=severity, description=description, reporter=actor, opened_at=at
        )
        s.add(bug)
        s.flush()
        audit(
            actor=actor,
            action="bug.open",
            target=f"bug:{bug.id}",
            feature=key,
            before=None,
            after={"id": bug.id, "title": title, "severity": severity},
            at=at,
        )
    return copy_row(BugView, bug, feature=key)


def close_bug(*, bug_id: int, actor: str) -> BugView:
    at = now()
    with transaction() as s:
        bug = s.get(Bug, bug_id)
        if bug is None:
            raise NotFound(f"no bug {bug_id}")
        if not changed(update(Bug).where(Bug.id == bug_id, Bug.closed_at.is_(None)).values(closed_at=at)):
            raise Conflict(f"bug {bug_id} is already closed")
        s.refresh(bug)  # read back what the compare-and-set wrote
        key = str(s.scalar(select(Feature.key).where(Feature.id == bug.feature_id)))
        audit(
            actor=actor,
            action="bug.close",
            target=f"bug:{bug_id}",
            feature=key,
            before=None,
            after={"closed_at": at.isoformat()},
            at=at,
        )
    return copy_row(BugView, bug, feature=key)


def list_bugs(*, key: str, status: str | None, limit: int, before: int | None) -> list[BugView]:
    feature = find_feature(key)
    query = select(Bug).where(Bug.feature_id == feature.id).order_by(Bug.id.desc()).limit(limit)
    if status == "open":
        query = query.where(Bug.closed_at.is_(None))
    elif status == "closed":
        query = query.where(Bug.closed_at.is_not(None))
    if before is not None:
        query = query.where(Bug.id < before)
    return [copy_row(BugView, bug, feature=key) for bug in session().scalars(query)]


def report_change(*, key: str, sha: str, committed_at: datetime, actor: str) -> ChangeView:
    """Record a commit; its lead time ends at the feature's first deployment from now on."""
    at = now()
    if committed_at > at + timedelta(minutes=5):
        raise InvalidInput("committed_at is in the future", errors={"committed_at": ["must not be in the future"]})
    with transaction() as s:
        feature = find_feature(key)
        change = Change(feature_id=feature.id, sha=sha, committed_at=committed_at, reported_at=at, reporter=actor)
        s.add(change)
        s.flush()
        audit(
            actor=actor,
            action="change.report",
            target=f"change:{change.id}",
            feature=key,
            before=None,
            after={"sha": sha, "committed_at": committed_at.isoformat()},
            at=at,
        )
    return copy_row(ChangeView, change, feature=key)
