"""API tokens: random secrets, stored hashed, shown once, revocable."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import OperationalError

from gate.domain.roles import Principal, Role, expiry_errors, owner_errors, role_errors
from gate.errors import InvalidInput, NotFound, Unauthorized
from gate.models import Token
from gate.services.audit import audit
from gate.services.context import engine, now, session
from gate.services.transactions import transaction
from gate.services.versions import bump_tokens_version

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
    roles: tuple[str, ...]
    owners: tuple[str, ...] | None
    expires_at: datetime | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @property
    def role(self) -> str:
        """The roles as one string, as listings showed them before tokens had several: 'qa', 'product,qa'."""
        return ",".join(self.roles)

    @classmethod
    def of(cls, token: Token) -> TokenView:
        return cls(
            id=token.id,
            name=token.name,
            roles=tuple(token.roles.split(",")),
            owners=tuple(token.owners) if token.owners is not None else None,
            expires_at=token.expires_at,
            created_at=token.created_at,
            last_used_at=token.last_used_at,
            revoked_at=token.revoked_at,
        )


def creation(fields: dict[str, Any]) -> dict[str, Any]:
    """create_token's arguments from the fields of the API's body or the dashboard's form: the single
    `role` of contract v2 or `roles`; `expires_in_days` or `expires_at`."""
    days = fields.get("expires_in_days")
    return {
        "name": fields["name"],
        "roles": fields["roles"] if "roles" in fields else [fields["role"]],
        "owners": fields.get("owners"),
        "expires_at": now() + timedelta(days=days) if days is not None else fields.get("expires_at"),
    }


def create_token(
    *,
    name: str,
    roles: list[str],
    actor: str,
    owners: list[str] | None = None,
    expires_at: datetime | None = None,
) -> tuple[TokenView, str]:
    """Create a token and return it with its secret, which is never shown again."""
    at = now()
    errors = {
        "name": [] if name and len(name) <= 200 else ["1 to 200 characters"],
        "roles": role_errors(roles),
        "owners": owner_errors(owners) if owners is not None else [],
        "expires_at": expiry_errors(expires_at, at) if expires_at is not None else [],
    }
    errors = {field: messages for field, messages in errors.items() if messages}
    if errors:
        raise InvalidInput("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()), errors=errors)
    secret = "gate_" + secrets.token_urlsafe(32)
    with transaction() as s:
        token = Token(
            name=name,
            roles=",".join(roles),
            owners=sorted(set(owners)) if owners is not None else None,
            expires_at=expires_at,
            secret_hash=hash_secret(secret),
            created_at=at,
        )
        s.add(token)
        s.flush()
        bump_tokens_version()
        view = TokenView.of(token)
        audit(
            actor=actor,
            action="token.create",
            target=f"token:{token.id}",
            feature=None,
            before=None,
            after={
                "id": token.id,
                "name": name,
                "roles": list(view.roles),
                "owners": token.owners,
                "expires_at": expires_at.isoformat() if expires_at else None,
            },
            at=at,
        )
    return view, secret


def list_tokens(*, limit: int = 1000, before: int | None = None) -> list[TokenView]:
    """Every token, newest first, revoked ones included."""
    query = select(Token).order_by(Token.id.desc()).limit(limit)
    if before is not None:
        query = query.where(Token.id < before)
    return [TokenView.of(token) for token in session().scalars(query)]


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
            before={"name": token.name, "roles": token.roles.split(",")},
            after={"revoked": True},
            at=at,
        )
    return TokenView.of(token)


def bootstrap_admin() -> str | None:
    """On an empty database, create the `bootstrap-admin` token and return its secret; else None."""
    if session().scalar(select(func.count()).select_from(Token)):
        return None
    _, secret = create_token(name=BOOTSTRAP_NAME, roles=[Role.ADMIN], actor="gate")
    return secret


@dataclass(frozen=True)
class _Entry:
    token_id: int
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
                    select(Token.id, Token.name, Token.roles, Token.owners, Token.expires_at, Token.secret_hash).where(
                        Token.revoked_at.is_(None)
                    )
                ).all()
            by_hash = {
                h: _Entry(i, Principal(i, n, frozenset(r.split(",")), frozenset(o) if o is not None else None, e), h)
                for i, n, r, o, e, h in rows
            }
            self._by_hash, self._by_id = by_hash, {e.token_id: e.principal for e in by_hash.values()}
            self._version = tokens_version

    def by_id(self, token_id: int, tokens_version: int) -> Principal | None:
        """The active token with this id, None once revoked or expired (a dashboard session holds the id,
        never the secret)."""
        self._refresh(tokens_version)
        principal = self._by_id.get(token_id)
        if principal is not None and principal.expired(now()):
            return None
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
        if entry.principal.expired(now()):
            raise Unauthorized(f"the token expired at {entry.principal.expires_at:%Y-%m-%d %H:%M:%S} UTC")
        self._touch(entry.token_id)
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
