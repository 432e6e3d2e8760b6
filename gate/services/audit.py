"""The append-only audit log."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select

from gate.models import AuditEntry
from gate.services import webhooks
from gate.services.context import session
from gate.services.values import copy_row

log = logging.getLogger("gate.audit")  # one INFO line for every write that took effect
PENDING = "gate_audit_lines"


@dataclass(frozen=True)
class AuditView:
    """One audit entry."""

    id: int
    actor: str
    action: str
    target: str
    feature: str | None
    before: Any
    after: Any
    at: datetime


def list_audit(
    *,
    feature: str | None,
    limit: int,
    before: int | None,
    actor: str | None = None,
    action: str | None = None,
) -> list[AuditView]:
    """Audit entries, newest first, optionally for one feature, one actor, one action."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    for column, wanted in ((AuditEntry.feature, feature), (AuditEntry.actor, actor), (AuditEntry.action, action)):
        if wanted is not None:
            query = query.where(column == wanted)
    if before is not None:
        query = query.where(AuditEntry.id < before)
    return [copy_row(AuditView, row) for row in session().scalars(query)]


def log_committed(lines: list[str]) -> None:
    """The audit lines of a transaction that committed: who did what."""
    for line in lines:
        log.info("%s", line)


def audit(*, actor: str, action: str, target: str, feature: str | None, before: Any, after: Any, at: datetime) -> None:
    """Append one audit entry to the current transaction."""
    session().execute(
        insert(AuditEntry).values(
            actor=actor, action=action, target=target, feature=feature, before=before, after=after, at=at
        )
    )
    if action in webhooks.EVENTS:  # the actions webhooks carry each time
        webhooks.queue(event=action, feature=feature, actor=actor, at=at, detail=after)
    line = f"{action} {target} by {actor}: {json.dumps(after, ensure_ascii=False, default=str)}"
    session().info.setdefault(PENDING, []).append(line)  # logged by the transaction once it commits
