"""The dashboard's blueprint: who may see a page (`signed_in`, the role check and the owner scope the API
uses too), signing in and out, and the helpers every form shares. The pages themselves are in
feature_pages.py, incident_pages.py and admin_pages.py."""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, session, url_for
from marshmallow import Schema
from werkzeug.wrappers import Response

from gate.config import enabled
from gate.domain.roles import PEOPLE as ANY
from gate.domain.roles import Principal
from gate.errors import Forbidden, GateError, InvalidInput, Unauthorized
from gate.runtime import runtime
from gate.schemas.base import load
from gate.services import features
from gate.services.context import now, rings
from gate.services.tokens import TokenCache
from gate.services.versions import current_versions
from gate.services.web_sessions import end_session, open_session, start_session
from gate.web.csrf import check_csrf
from gate.web.sso import CALLBACK, SignInFailed, configured_provider, provider
from gate.web.sso import log as sso_log

web = Blueprint("web", __name__, template_folder="templates", static_folder="static", static_url_path="/static")
F = TypeVar("F", bound=Callable[..., Any])


def _cache() -> TokenCache:
    return runtime().tokens


def signed_in(*roles: str) -> Callable[[F], F]:
    """Pages need a signed-in token of one of `roles` (admin holds all); forms also need the CSRF token."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            g.snapshot_version, tokens_version = current_versions()
            principal = _session_principal(tokens_version)
            if principal is None:
                session.pop("sid", None)
                return redirect(url_for("web.login", next=request.full_path.rstrip("?")))
            if not principal.may(roles):
                raise Forbidden(f"role {principal.role} may not do this")
            g.principal = principal
            if request.method == "POST":
                check_csrf()
                features.authorize_write(principal, kwargs.get("key"))  # the owner scope, as the API's
            return view(*args, **kwargs)

        return cast(F, wrapper)

    return decorator


def _session_principal(tokens_version: int) -> Principal | None:
    """Who holds this browser's session: its token (while the token lives and token sign-in is on), or the
    person who signed in through the identity provider; None once signed out or past GATE_SESSION_HOURS."""
    session_id = session.get("sid")
    holder = (
        open_session(session_id, float(current_app.config["SESSION_HOURS"])) if isinstance(session_id, str) else None
    )
    if holder is None:
        return None
    if holder.token_id is None:
        return Principal(None, str(holder.person), holder.roles)
    return _cache().by_id(holder.token_id, tokens_version) if token_signin() else None


def token_signin() -> bool:
    return enabled(current_app.config["TOKEN_SIGNIN"])


def me() -> Principal:
    return cast(Principal, g.principal)


def may(*roles: str) -> bool:
    """Whether the signed-in token may use forms that need `roles` (templates hide what it may not do)."""
    principal: Principal | None = g.get("principal")
    return principal is not None and principal.may(roles)


@web.app_context_processor
def _helpers() -> dict[str, Any]:
    return {"may": may, "rings_config": rings, "principal": lambda: g.get("principal"), "now": now}


@web.errorhandler(GateError)
def _error_page(error: GateError) -> tuple[str, int]:
    return render_template("error.html", error=error), error.status


# ---- sign in -------------------------------------------------------------------------------------


def _safe_next(target: str | None) -> str:
    parts = urlsplit(target or "")
    return (
        target
        if target and not parts.scheme and not parts.netloc and target.startswith("/")
        else url_for("web.board_page")
    )


def _login_page(status: int = 200, next_page: str | None = None) -> tuple[str, int]:
    idp = provider()
    state = None if idp is None else "ready" if idp.ready() else "unavailable"
    return render_template("login.html", next=next_page, sso=state, token_signin=token_signin()), status


def _begin(next_page: str | None, **holder: Any) -> Response:
    """A new server-side session and a new CSRF token at every sign-in: no fixation."""
    session.clear()
    session["sid"] = start_session(**holder)
    return redirect(_safe_next(next_page))


@web.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """Sign in with an API token (unless GATE_TOKEN_SIGNIN=0); the session keeps its id, never the secret."""
    if request.method == "POST":
        check_csrf()
        if not token_signin():
            flash("Token sign-in is turned off here: sign in with single sign-on.", "error")
            return _login_page(403, request.form.get("next"))
        _, tokens_version = current_versions()
        try:
            principal = _cache().authenticate(request.form.get("token", "").strip(), tokens_version)
        except Unauthorized:
            flash("That token is unknown or revoked.", "error")
            return _login_page(401, request.form.get("next"))
        if not principal.may(ANY):
            flash("SDK tokens cannot sign in to the dashboard.", "error")
            return _login_page(403, request.form.get("next"))
        return _begin(request.form.get("next"), token_id=principal.token_id)
    return _login_page(next_page=request.args.get("next"))


@web.route("/auth/oidc/login")
def sso_login() -> Response:
    """Off to the identity provider, with a fresh state, nonce and PKCE challenge."""
    idp = configured_provider()
    if not idp.ready():
        flash("Single sign-on is unavailable for now: the identity provider does not answer.", "error")
        return redirect(url_for("web.login", next=request.args.get("next")))
    response = idp.start()
    session["sso_next"] = _safe_next(request.args.get("next"))
    return cast(Response, response)


@web.route(CALLBACK)
def sso_callback() -> Any:
    """Back from the identity provider: a session for the person, or a page saying why not."""
    idp = configured_provider()
    next_page = session.pop("sso_next", None)
    try:
        person, roles = idp.finish()
    except SignInFailed as exc:
        sso_log.warning("a sign-in through the identity provider failed: %s", exc)
        return render_template("error.html", error=Unauthorized(f"Sign-in failed: {exc}.")), 401
    if not roles:
        return render_template("no_role.html", person=person, claim=idp.settings.roles_claim), 403
    return _begin(next_page, person=person, roles=roles)


@web.route("/logout", methods=["POST"])
def logout() -> Response:
    check_csrf()
    session_id = session.get("sid")
    if isinstance(session_id, str):
        end_session(session_id)
    session.clear()
    return redirect(url_for("web.login"))


# ---- forms ---------------------------------------------------------------------------------------


def run_form(back: str, action: Callable[[], Any], done: str | None = None) -> Response:
    """Run a form's action, say how it went, and go back to the page `back` names."""
    try:
        action()
        if done is not None:
            flash(done, "ok")
    except GateError as error:
        flash(error.detail, "error")
    return redirect(back)


_NUMBERS = {
    "percent": lambda text: _number(text),
    "severity": lambda text: _integer(text),
    "expires_in_days": lambda text: _integer(text),
}
_NOT_FIELDS = {"csrf", "confirm", "roles", "owners"}  # lists: the view reads them whole


def load_form(schema: Schema, **defaults: Any) -> dict[str, Any]:
    """Load the posted form through the API's own schema: a form obeys every limit the API does."""
    data: dict[str, Any] = dict(defaults)
    for name, raw in request.form.items():
        value = raw.strip()
        if name in _NOT_FIELDS or not value:
            continue  # an empty optional field is an absent one
        data[name] = _NUMBERS[name](value) if name in _NUMBERS else value
    return load(schema, data)


def _integer(text: str) -> Any:
    """A typed whole number as JSON would carry it; anything else stays text, for the schema to refuse."""
    return int(text) if text.isascii() and text.isdigit() and len(text) < 10 else text


def confirmed(what: str) -> None:
    """Destructive forms carry an "I am sure" box: a second, deliberate step before they act."""
    if request.form.get("confirm") != "yes":
        raise InvalidInput(f"tick the box to confirm the {what}", errors={"confirm": ["must be ticked"]})


def _number(text: str) -> Any:
    """A typed number as JSON would carry it; anything else stays text, for the schema to refuse."""
    try:
        value = float(text)
    except ValueError:
        return text
    return value if math.isfinite(value) else text
