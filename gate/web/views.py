"""Dashboard pages. Each form calls the same service as the API, under the same rules."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from functools import wraps
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from flask import Blueprint, current_app, flash, g, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from gate.api.auth import ANY, load_state
from gate.errors import Forbidden, GateError, InvalidInput, Unauthorized
from gate.services import board, dora, incidents, releases, votes
from gate.services.context import Principal, now, rings
from gate.services.tokens import TokenCache
from gate.services.web_sessions import end_session, session_alive, start_session
from gate.web import check_csrf

web = Blueprint("web", __name__, template_folder="templates", static_folder="static", static_url_path="/static")
F = TypeVar("F", bound=Callable[..., Any])


def _cache() -> TokenCache:
    return cast(TokenCache, current_app.extensions["gate.tokens"])


def signed_in(*roles: str) -> Callable[[F], F]:
    """Pages need a signed-in token of one of `roles` (admin holds all); forms also need the CSRF token."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            token_id, session_id = session.get("token_id"), session.get("sid")
            g.state_version, tokens_version = load_state()
            principal = None
            if isinstance(token_id, int) and isinstance(session_id, str) and session_alive(session_id, token_id):
                principal = _cache().by_id(token_id, tokens_version)
            if principal is None:
                session.pop("token_id", None)
                session.pop("sid", None)
                return redirect(url_for("web.login", next=request.full_path.rstrip("?")))
            if principal.role != "admin" and principal.role not in roles:
                raise Forbidden(f"role {principal.role} may not do this")
            g.principal = principal
            if request.method == "POST":
                check_csrf()
            return view(*args, **kwargs)

        return cast(F, wrapper)

    return decorator


def me() -> Principal:
    return cast(Principal, g.principal)


def may(*roles: str) -> bool:
    """Whether the signed-in token may use forms that need `roles` (templates hide what it may not do)."""
    principal: Principal | None = g.get("principal")
    return principal is not None and (principal.role == "admin" or principal.role in roles)


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


@web.route("/login", methods=["GET", "POST"])
def login() -> Any:
    """Sign in with an API token; the session keeps its id, never the secret."""
    if request.method == "POST":
        check_csrf()
        _, tokens_version = load_state()
        try:
            principal = _cache().authenticate(request.form.get("token", "").strip(), tokens_version)
        except Unauthorized:
            flash("That token is unknown or revoked.", "error")
            return render_template("login.html", next=request.form.get("next")), 401
        if principal.role == "sdk":
            flash("SDK tokens cannot sign in to the dashboard.", "error")
            return render_template("login.html", next=request.form.get("next")), 403
        csrf = session.get("csrf")
        session.clear()  # a new server-side session at every sign-in: no fixation
        session["token_id"], session["sid"] = principal.token_id, start_session(principal.token_id)
        session["csrf"] = csrf
        return redirect(_safe_next(request.form.get("next")))
    return render_template("login.html", next=request.args.get("next"))


@web.route("/logout", methods=["POST"])
def logout() -> Response:
    check_csrf()
    session_id = session.get("sid")
    if isinstance(session_id, str):
        end_session(session_id)
    session.clear()
    return redirect(url_for("web.login"))


# ---- pages ---------------------------------------------------------------------------------------


@web.route("/")
@signed_in(*ANY)
def board_page() -> str:
    owner = request.args.get("owner") or None
    state = request.args.get("state") or None
    if state is not None and state not in board.STATES:
        raise InvalidInput(f"state must be one of {', '.join(board.STATES)}")
    rows, owners = board.board(owner=owner, state=state)
    return render_template("board.html", rows=rows, owners=owners, owner=owner, state=state, states=board.STATES)


@web.route("/features/<key>")
@signed_in(*ANY)
def feature(key: str) -> str:
    return render_template("feature.html", page=board.feature_page(key))


def _act(key: str, action: Callable[[], Any], done: str) -> Response:
    try:
        action()
        flash(done, "ok")
    except GateError as error:
        flash(error.detail, "error")
    return redirect(url_for("web.feature", key=key))


def _percent_bp(text: str) -> int:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise InvalidInput("percent must be a number") from None
    if not value.is_finite() or not 0 < value <= 100 or (value * 100) != (value * 100).to_integral_value():
        raise InvalidInput("percent must be above 0, at most 100, with two decimals at most")
    return int(value * 100)


@web.route("/features/<key>/criteria/<criterion>/vote", methods=["POST"])
@signed_in("qa")
def vote(key: str, criterion: str) -> Response:
    choice = request.form.get("vote", "")
    comment = request.form.get("comment", "").strip() or None

    def cast() -> None:
        if choice not in ("yes", "no") or (comment is not None and len(comment) > 2000):
            raise InvalidInput("vote yes or no; a comment has at most 2,000 characters")
        votes.cast_vote(key=key, criterion=criterion, vote=choice, comment=comment, actor=me().name)

    return _act(key, cast, f"Voted {choice} on {criterion}.")


@web.route("/features/<key>/promote", methods=["POST"])
@signed_in("release")
def promote(key: str) -> Response:
    ring = request.form.get("ring", "")
    reason = request.form.get("override_reason", "").strip() or None
    return _act(
        key,
        lambda: releases.promote(
            key=key,
            ring=ring,
            percent_bp=_percent_bp(request.form.get("percent", "100")),
            override_reason=reason,
            principal=me(),
        ),
        f"Promoted to {ring}.",
    )


@web.route("/features/<key>/rollout", methods=["POST"])
@signed_in("release")
def rollout(key: str) -> Response:
    return _act(
        key,
        lambda: releases.rollout(key=key, percent_bp=_percent_bp(request.form.get("percent", "")), actor=me().name),
        "Rollout changed.",
    )


@web.route("/features/<key>/rollback", methods=["POST"])
@signed_in("release")
def rollback(key: str) -> Response:
    ring = request.form.get("ring") or None
    reason = request.form.get("reason", "").strip() or None
    return _act(
        key,
        lambda: releases.rollback(key=key, ring=ring, reason=reason, actor=me().name),
        f"Rolled back to {ring or 'off'}.",
    )


@web.route("/features/<key>/kill", methods=["POST"])
@signed_in("release")
def kill(key: str) -> Response:
    reason = request.form.get("reason", "").strip() or None
    return _act(key, lambda: releases.kill(key=key, reason=reason, actor=me().name), "Killed.")


@web.route("/features/<key>/revive", methods=["POST"])
@signed_in("release")
def revive(key: str) -> Response:
    return _act(key, lambda: releases.revive(key=key, actor=me().name), "Revived.")


@web.route("/incidents")
@signed_in(*ANY)
def incidents_page() -> str:
    open_ = incidents.list_incidents(status="open", limit=500, before=None)
    resolved = incidents.list_incidents(status="resolved", limit=20, before=None)
    return render_template("incidents.html", open_incidents=open_, resolved=resolved, at=now(), timedelta=timedelta)


@web.route("/dora")
@signed_in(*ANY)
def dora_page() -> str:
    weeks = dora.weekly(13)
    labels = [start.strftime("%d %b") for start, _ in weeks]
    series = {
        "deployments": [float(f.deployments) for _, f in weeks],
        "lead": [f.lead_median for _, f in weeks],
        "fail": [f.fail_percent for _, f in weeks],
        "restore": [f.restore_median for _, f in weeks],
    }
    return render_template("dora.html", m=dora.metrics(days=30), labels=labels, series=series, weeks=weeks)


@web.route("/rings")
@signed_in(*ANY)
def rings_page() -> str:
    return render_template("rings.html")
