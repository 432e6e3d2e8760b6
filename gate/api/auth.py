"""Bearer-token authentication and role checks, one cheap query per request."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import g, request

from gate.domain.roles import PEOPLE, Principal
from gate.errors import Forbidden, Unauthorized
from gate.runtime import runtime
from gate.services.features import authorize_write
from gate.services.versions import current_versions

VERSIONS_READ = "gate.state"  # environ: the state this request read before the app (the snapshot revalidation)
ANY = PEOPLE
F = TypeVar("F", bound=Callable[..., Any])


def authenticate(roles: tuple[str, ...]) -> Principal:
    """Resolve the request's bearer token to a principal holding one of `roles` (admin holds all)."""
    principal, (g.snapshot_version, g.tokens_version) = bearer(
        request.headers.get("Authorization", ""), roles, request.environ.get(VERSIONS_READ)
    )
    g.principal = principal
    if request.method not in ("GET", "HEAD") and "sdk" not in roles:  # a write: within the owner scope
        authorize_write(principal, (request.view_args or {}).get("key"))
    return principal


def bearer(
    header: str, roles: tuple[str, ...], state: tuple[int, int] | None = None
) -> tuple[Principal, tuple[int, int]]:
    """The principal an Authorization header names, if it holds one of `roles`, and the state read for it
    (snapshot and tokens versions; `state` when this request has read it already): every answer to the
    request must be at least that new."""
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise Unauthorized("send Authorization: Bearer TOKEN")
    state = state or current_versions()
    principal = runtime().tokens.authenticate(secret.strip(), state[1])
    if not principal.may(roles):
        raise Forbidden(f"role {principal.role} may not do this; it takes {' or '.join(roles)}")
    return principal, state


def authenticated(*roles: str) -> Callable[[F], F]:
    """Let only tokens holding one of `roles` (or admin) call the view (Blueprint.requires documents it too)."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            authenticate(roles)
            return view(*args, **kwargs)

        return cast(F, wrapper)

    return decorator


def security_doc(roles: tuple[str, ...]) -> dict[str, Any]:
    """What the OpenAPI document says of a view that needs `roles`: bearer auth, who, and 401/403."""
    who = "admin" if roles == ("admin",) else ", ".join(roles) + " or admin"
    problems = {
        str(code): {"$ref": f"#/components/responses/{name}"}
        for code, name in ((401, "Unauthorized"), (403, "Forbidden"))
    }
    return {"security": [{"bearer": []}], "description": f"Role: {who}.", "responses": problems}


def actor() -> str:
    """The name of the token making the request: the actor of every write."""
    return cast(Principal, g.principal).name


def principal() -> Principal:
    """The principal making the request."""
    return cast(Principal, g.principal)
