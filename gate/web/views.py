"""Dashboard pages. Each form calls the same service as the API, under the same rules."""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from flask import Blueprint, flash, g, redirect, render_template, request, send_from_directory, session, url_for
from marshmallow import Schema
from werkzeug.wrappers import Response

from gate import schemas
from gate.domain.incidents import MEANING, RESPONSE_TIME, SEVERITIES, auto_kills, notification
from gate.domain.roles import PEOPLE as ANY
from gate.domain.roles import ROLES, Principal
from gate.domain.words import duration
from gate.errors import Forbidden, GateError, InvalidInput, NotFound, Unauthorized
from gate.runtime import runtime
from gate.schemas.base import load
from gate.services import audit, board, dora, features, incidents, plans, releases, tokens, votes
from gate.services.context import now, rings
from gate.services.state import current_state as load_state
from gate.services.tokens import TokenCache
from gate.services.web_sessions import end_session, session_alive, start_session
from gate.web.csrf import check_csrf

web = Blueprint("web", __name__, template_folder="templates", static_folder="static", static_url_path="/static")
F = TypeVar("F", bound=Callable[..., Any])


def _cache() -> TokenCache:
    return runtime().tokens


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
            if not principal.may(roles):
                raise Forbidden(f"role {principal.role} may not do this")
            g.principal = principal
            if request.method == "POST":
                check_csrf()
                features.authorize_write(principal, kwargs.get("key"))  # the owner scope, as the API's
            return view(*args, **kwargs)

        return cast(F, wrapper)

    return decorator


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
        if not principal.may(ANY):
            flash("SDK tokens cannot sign in to the dashboard.", "error")
            return render_template("login.html", next=request.form.get("next")), 403
        session.clear()  # a new server-side session and a new CSRF token at every sign-in: no fixation
        session["token_id"], session["sid"] = principal.token_id, start_session(principal.token_id)
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
    search = (request.args.get("q") or "").strip()[:200] or None
    rows, owners = board.board(owner=owner, state=state, search=search)
    return render_template(
        "board.html", rows=rows, owners=owners, owner=owner, state=state, states=board.STATES, search=search
    )


@web.route("/features/<key>")
@signed_in(*ANY)
def feature(key: str) -> str:
    return render_template("feature.html", page=board.feature_page(key, me().name))


def _act(back: str, action: Callable[[], Any], done: str | None = None) -> Response:
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


def _form(schema: Schema, **defaults: Any) -> dict[str, Any]:
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


def _confirmed(what: str) -> None:
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


@web.route("/features/<key>/criteria/<criterion>/vote", methods=["POST"])
@signed_in("qa")
def vote(key: str, criterion: str) -> Response:
    def cast_vote() -> None:
        body = _form(schemas.VoteIn())
        votes.cast_vote(key=key, criterion=criterion, actor=me().name, **body)
        flash(f"Voted {body['vote']} on {criterion}.", "ok")

    return _act(url_for("web.feature", key=key), cast_vote)


@web.route("/features/<key>/promote", methods=["POST"])
@signed_in("release")
def promote(key: str) -> Response:
    def act() -> None:
        body = _form(schemas.PromoteIn())
        releases.promote(key=key, percent_bp=body.pop("percent"), principal=me(), **body)
        flash(f"Promoted to {body['ring']}.", "ok")

    return _act(url_for("web.feature", key=key), act)


@web.route("/features/<key>/rollout", methods=["POST"])
@signed_in("release")
def rollout(key: str) -> Response:
    def act() -> None:
        releases.rollout(key=key, percent_bp=_form(schemas.RolloutIn())["percent"], actor=me().name)
        flash("Rollout changed.", "ok")

    return _act(url_for("web.feature", key=key), act)


@web.route("/features/<key>/rollback", methods=["POST"])
@signed_in("release")
def rollback(key: str) -> Response:
    def act() -> None:
        _confirmed("rollback")
        body = _form(schemas.RollbackIn(), ring=None)
        releases.rollback(key=key, actor=me().name, **body)
        flash(f"Rolled back to {body['ring'] or 'off'}.", "ok")

    return _act(url_for("web.feature", key=key), act)


@web.route("/features/<key>/kill", methods=["POST"])
@signed_in("release")
def kill(key: str) -> Response:
    def act() -> None:
        _confirmed("kill")
        releases.kill(key=key, actor=me().name, **_form(schemas.KillIn()))
        flash("Killed.", "ok")

    return _act(url_for("web.feature", key=key), act)


@web.route("/features/<key>/revive", methods=["POST"])
@signed_in("release")
def revive(key: str) -> Response:
    return _act(url_for("web.feature", key=key), lambda: releases.revive(key=key, actor=me().name), "Revived.")


PLAN_ACTIONS = {
    "start": "Plan started.",
    "pause": "Plan paused.",
    "resume": "Plan resumed.",
    "cancel": "Plan cancelled.",
}


@web.route("/features/<key>/plan/<action>", methods=["POST"])
@signed_in("release")
def plan_action(key: str, action: str) -> Response:
    if action not in PLAN_ACTIONS:
        raise NotFound(f"no plan action {action!r}")
    use_case = getattr(plans, action)
    return _act(
        url_for("web.feature", key=key),
        lambda: use_case(key=key, actor=me().name, token_id=me().token_id),
        PLAN_ACTIONS[action],
    )


@web.route("/incidents")
@signed_in(*ANY)
def incidents_page() -> str:
    open_ = incidents.list_incidents(status="open", limit=500, before=None)
    resolved = incidents.list_incidents(status="resolved", limit=20, before=None)
    return render_template(
        "incidents.html", open_incidents=open_, resolved=resolved, at=now(), severities=_severity_choices()
    )


def _severity_choices() -> list[tuple[int, str]]:
    """Each severity with what it means, who is told and how soon: '0 · outage, …: pages on-call, 30 min to respond'."""
    told = {"page": "pages on-call", "email": "e-mails", None: "tells no one"}
    choices = []
    for sev in SEVERITIES:
        within = duration(RESPONSE_TIME[sev].total_seconds())
        choices.append((sev, f"{sev} · {MEANING[sev]}: {told[notification(sev)]}, {within} to respond"))
    return choices


@web.route("/incidents", methods=["POST"])
@signed_in("reporter")
def report_incident() -> Response:
    def act() -> None:
        body = _form(schemas.IncidentIn())
        view, _ = incidents.open_incident(actor=me().name, **body)
        told = {"page": "on-call paged", "email": "e-mail sent"}.get(view.notified, "no one told")
        killed = " The flag was killed at once." if view.feature and _auto_kills(view.severity) else ""
        flash(f"Incident #{view.id} opened: {told}.{killed}", "ok")

    return _act(url_for("web.incidents_page"), act)


def _auto_kills(severity: int) -> bool:
    return auto_kills(severity, rings().auto_kill_at_or_above)


@web.route("/incidents/<id:incident_id>/ack", methods=["POST"])
@signed_in("reporter")
def acknowledge_incident(incident_id: int) -> Response:
    return _act(
        url_for("web.incidents_page"),
        lambda: incidents.acknowledge(incident_id=incident_id, actor=me().name),
        "Acknowledged.",
    )


@web.route("/incidents/<id:incident_id>/resolve", methods=["POST"])
@signed_in("reporter")
def resolve_incident(incident_id: int) -> Response:
    def act() -> None:
        _confirmed("resolution")
        incidents.resolve(incident_id=incident_id, actor=me().name)
        flash(f"Incident #{incident_id} resolved.", "ok")

    return _act(url_for("web.incidents_page"), act)


@web.route("/incidents/<id:incident_id>/rca-items", methods=["POST"])
@signed_in("reporter")
def add_rca_item(incident_id: int) -> Response:
    def act() -> None:
        item = incidents.open_rca_item(incident_id=incident_id, actor=me().name, **_form(schemas.RcaIn()))
        flash(f"RCA item #{item.id} added.", "ok")

    return _act(url_for("web.incidents_page"), act)


@web.route("/rca-items/<id:item_id>/close", methods=["POST"])
@signed_in("reporter")
def close_rca_item(item_id: int) -> Response:
    return _act(
        url_for("web.incidents_page"),
        lambda: incidents.close_rca_item(item_id=item_id, actor=me().name),
        "RCA item closed.",
    )


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


# ---- the API's reference -------------------------------------------------------------------------

_SWAGGER_FILES = frozenset({"swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js"})


@web.route("/api/docs")
def api_docs() -> str:
    """The REST API's reference (Swagger UI from the swagger-ui-bundle package, over /api/v1/openapi.json)."""
    return render_template("api_docs.html")


@web.route("/api/docs/<name>")
def api_docs_file(name: str) -> Response:
    if name not in _SWAGGER_FILES:
        raise NotFound("no such file")
    from swagger_ui_bundle import swagger_ui_path

    return send_from_directory(str(swagger_ui_path), name, max_age=86400)


# ---- admin ---------------------------------------------------------------------------------------


@web.route("/admin/tokens")
@signed_in("admin")
def tokens_page() -> str:
    return _tokens_page(None)


def _tokens_page(created: tuple[tokens.TokenView, str] | None) -> str:
    listed = tokens.list_tokens(limit=1000, before=None)
    return render_template("tokens.html", tokens=listed, roles=ROLES, created=created)


@web.route("/admin/tokens", methods=["POST"])
@signed_in("admin")
def create_token() -> Any:
    """The new secret is shown on this answer only: never stored, never put in a redirect or a flash."""
    form = request.form
    lists = {
        "roles": form.getlist("roles"),
        "owners": [o.strip() for o in form.get("owners", "").split(",") if o.strip()],
    }
    try:
        body = _form(schemas.TokenIn(), **{k: v for k, v in lists.items() if v})
        created = tokens.create_token(**tokens.creation(body), actor=me().name)
    except GateError as error:
        flash(error.detail, "error")
        return redirect(url_for("web.tokens_page"))
    return _tokens_page(created), 201, {"Cache-Control": "no-store"}  # the secret must stay in no cache


@web.route("/admin/tokens/<id:token_id>/revoke", methods=["POST"])
@signed_in("admin")
def revoke_token(token_id: int) -> Response:
    def act() -> None:
        _confirmed("revocation")
        revoked = tokens.revoke_token(token_id=token_id, actor=me().name)
        flash(f"Token {revoked.name} revoked: it works nowhere from now on.", "ok")

    return _act(url_for("web.tokens_page"), act)


@web.route("/admin/audit")
@signed_in("admin")
def audit_page() -> str:
    query = load(schemas.AuditQuery(), {k: v for k, v in request.args.items() if v.strip()})
    entries = audit.list_audit(
        feature=query["feature"], actor=query["actor"], action=query["action"], limit=200, before=query["before"]
    )
    return render_template("audit.html", entries=entries, query=query)
