"""Dashboard sessions kept on the server: a copied cookie stops working once its session is signed out."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import delete, inspect, select

from gate.models import SharedRow, WebSession
from gate.services.context import current, engine, now, session
from gate.services.transactions import transaction


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


def start_session(token_id: int) -> str:
    """Open a session for a signed-in token and return its id (for the signed cookie only)."""
    session_id = secrets.token_urlsafe(32)
    with transaction() as s:
        s.add(WebSession(id=_digest(session_id), token_id=token_id, created_at=now()))
    return session_id


def session_alive(session_id: str, token_id: int) -> bool:
    """Whether the session is open and belongs to `token_id`."""
    found = session().scalar(
        select(WebSession.token_id).where(WebSession.id == _digest(session_id), WebSession.token_id == token_id)
    )
    session().rollback()
    return found is not None


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
