"""API tokens: random secrets, stored hashed, shown once, revocable."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.exc import OperationalError

from gate.domain.roles import ROLES, Principal, Role
from gate.errors import InvalidInput, NotFound, Unauthorized
from gate.models import Token
from gate.services.audit import audit
from gate.services.context import engine, now, session
from gate.services.state import bump_tokens_version
from gate.services.transactions import transaction
from gate.services.values import copy_row

BOOTSTRAP_NAME = "bootstrap-admin"
_TOUCH_EVERY = timedelta(seconds=60)


def hash_secret(secret: str) -> str:
    """SHA-256 of a token secret; secrets are random 256-bit strings, so a slow hash adds nothing."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class TokenView:
    """A token as an admin sees it: never its secret or hash."""

    id: int
    name: str
    role: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


def create_token(*, name: str, role: str, actor: str) -> tuple[TokenView, str]:
    """Create a token and return it with its secret, which is never shown again."""
    if role not in ROLES:
        raise InvalidInput(f"unknown role {role!r}", errors={"role": [f"must be one of {', '.join(ROLES)}"]})
    if not name or len(name) > 200:
        raise InvalidInput("a token needs a name of 1 to 200 characters", errors={"name": ["1 to 200 characters"]})
    secret = "gate_" + secrets.token_urlsafe(32)
    at = now()
    with transaction() as s:
        token = Token(name=name, role=role, secret_hash=hash_secret(secret), created_at=at)
        s.add(token)
        s.flush()
        bump_tokens_version()
        audit(
            actor=actor,
            action="token.create",
            target=f"token:{token.id}",
            feature=None,
            before=None,
            after={"id": token.id, "name": name, "role": role},
            at=at,
        )
    return copy_row(TokenView, token), secret


def list_tokens(*, limit: int = 1000, before: int | None = None) -> list[TokenView]:
    """Every token, newest first, revoked ones included."""
    query = select(Token).order_by(Token.id.desc()).limit(limit)
    if before is not None:
        query = query.where(Token.id < before)
    return [copy_row(TokenView, token) for token in session().scalars(query)]


def revoke_token(*, token_id: int, actor: str) -> TokenView:
    """Revoke a token; it stops working on every worker at the next request."""
    at = now()
    with transaction() as s:
        token = s.get(Token, token_id)
        if token is None or token.revoked_at is not None:
            raise NotFound(f"no active token {token_id}")
        token.revoked_at = at
        bump_tokens_version()
        audit(
            actor=actor,
            action="token.revoke",
            target=f"token:{token_id}",
            feature=None,
            before={"name": token.name, "role": token.role},
            after={"revoked": True},
            at=at,
        )
    return copy_row(TokenView, token)


def bootstrap_admin() -> str | None:
    """On an empty database, create the `bootstrap-admin` token and return its secret; else None."""
    if session().scalar(select(func.count()).select_from(Token)):
        return None
    _, secret = create_token(name=BOOTSTRAP_NAME, role=Role.ADMIN, actor="gate")
    return secret


@dataclass(frozen=True)
class _Entry:
    principal: Principal
    secret_hash: str


class TokenCache:
    """Each worker's map of active tokens, reloaded whenever the shared tokens version moves."""

    def __init__(self) -> None:
        self._version = -1
        self._by_hash: dict[str, _Entry] = {}
        self._by_id: dict[int, Principal] = {}
        self._touched: dict[int, datetime] = {}

    def _refresh(self, tokens_version: int) -> None:
        if tokens_version != self._version:
            # a connection of its own, back in the pool at once: a request that waits later (for a snapshot
            # build, say) must not sit on a pooled connection meanwhile
            with engine().connect() as conn:
                rows = conn.execute(
                    select(Token.id, Token.name, Token.role, Token.secret_hash).where(Token.revoked_at.is_(None))
                ).all()
            by_hash = {h: _Entry(Principal(i, n, r), h) for i, n, r, h in rows}
            self._by_hash, self._by_id = by_hash, {e.principal.token_id: e.principal for e in by_hash.values()}
            self._version = tokens_version

    def by_id(self, token_id: int, tokens_version: int) -> Principal | None:
        """The active token with this id (a dashboard session holds the id, never the secret)."""
        self._refresh(tokens_version)
        principal = self._by_id.get(token_id)
        if principal is not None:
            self._touch(token_id)
        return principal

    def authenticate(self, secret: str, tokens_version: int) -> Principal:
        """Return the principal for `secret` or raise Unauthorized."""
        self._refresh(tokens_version)
        digest = hash_secret(secret)
        entry = self._by_hash.get(digest)
        if entry is None or not hmac.compare_digest(entry.secret_hash, digest):
            raise Unauthorized("the token is unknown or revoked")
        self._touch(entry.principal.token_id)
        return entry.principal

    def _touch(self, token_id: int) -> None:
        """Record last use, at most once a minute per token and worker, outside the request's unit of work."""
        at = now()
        last = self._touched.get(token_id)
        if last is not None and at - last < _TOUCH_EVERY:
            return
        self._touched[token_id] = at
        s = session()
        try:
            s.execute(update(Token).where(Token.id == token_id).values(last_used_at=at))
            s.commit()
        except OperationalError:  # last use is best effort; a busy store must not fail the request
            s.rollback()
