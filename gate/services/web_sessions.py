"""Dashboard sessions kept on the server: a copied cookie stops working once its session is signed out or
has lasted GATE_SESSION_HOURS. A session is a token's, or a person's who signed in through the identity
provider (their identity and the roles their groups gave them at sign-in)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, inspect, select

from gate.models import SharedRow, WebSession
from gate.services.context import current, engine, now, session
from gate.services.transactions import transaction


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Holder:
    """Who holds an open session: a token (by id), or a person with the roles they signed in with."""

    token_id: int | None
    person: str | None
    roles: frozenset[str]


def start_session(
    token_id: int | None = None, *, person: str | None = None, roles: frozenset[str] = frozenset()
) -> str:
    """Open a session for a signed-in token or person and return its id (for the signed cookie only)."""
    session_id = secrets.token_urlsafe(32)
    with transaction() as s:
        s.add(
            WebSession(
                id=_digest(session_id),
                token_id=token_id,
                person=person,
                roles=",".join(sorted(roles)) if person is not None else None,
                created_at=now(),
            )
        )
    return session_id


def open_session(session_id: str, hours: float) -> Holder | None:
    """Who holds the session, while it is open and younger than `hours`; None once signed out or lapsed."""
    row = (
        session()
        .execute(
            select(WebSession.token_id, WebSession.person, WebSession.roles, WebSession.created_at).where(
                WebSession.id == _digest(session_id)
            )
        )
        .first()
    )
    session().rollback()
    if row is None or now() - row.created_at >= timedelta(hours=hours):
        return None
    return Holder(row.token_id, row.person, frozenset(filter(None, (row.roles or "").split(","))))


def end_session(session_id: str) -> None:
    """Sign the session out everywhere."""
    with transaction() as s:
        s.execute(delete(WebSession).where(WebSession.id == _digest(session_id)))


def stored_secret() -> str | None:
    """The key that signs dashboard sessions, kept in the store at migration (the same on every worker and
    host); None before the store is migrated."""
    if not inspect(engine()).has_table("gate_state"):
        return None
    stored = session().scalar(select(SharedRow.session_secret).where(SharedRow.id == 1))
    current().sessions.remove()
    return str(stored) if stored else None
