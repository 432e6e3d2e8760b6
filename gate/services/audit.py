"""The append-only audit log."""

from __future__ import annotations

from sqlalchemy import select

from gate.models import AuditEntry
from gate.services.context import session


def list_audit(*, feature: str | None, limit: int, before: int | None) -> list[AuditEntry]:
    """Audit entries, newest first, optionally for one feature."""
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if feature is not None:
        query = query.where(AuditEntry.feature == feature)
    if before is not None:
        query = query.where(AuditEntry.id < before)
    return list(session().scalars(query))
