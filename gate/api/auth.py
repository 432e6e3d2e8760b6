"""Bearer-token authentication and role checks, one cheap query per request."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import g, request

from gate.domain.roles import PEOPLE, Principal, allowed
from gate.errors import Forbidden, Unauthorized
from gate.runtime import runtime
from gate.services.state import current_state

ANY = PEOPLE
F = TypeVar("F", bound=Callable[..., Any])


def authenticate(roles: tuple[str, ...]) -> Principal:
    """Resolve the bearer token to a principal holding one of `roles` (admin holds all)."""
    header = request.headers.get("Authorization", "")
    scheme, _, secret = header.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise Unauthorized("send Authorization: Bearer TOKEN")
    g.state_version, g.tokens_version = current_state()
    principal = runtime().tokens.authenticate(secret.strip(), g.tokens_version)
    if not allowed(principal.role, roles):
        raise Forbidden(f"role {principal.role} may not do this; it takes {' or '.join(roles)}")
    g.principal = principal
    return principal


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
