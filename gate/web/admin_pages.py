"""The API's reference as a page, and the admin's pages: tokens and the audit log."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, send_from_directory, url_for
from werkzeug.wrappers import Response

from gate import schemas
from gate.domain.roles import ROLES
from gate.errors import GateError, NotFound
from gate.schemas.base import load
from gate.services import audit, tokens
from gate.web.views import confirmed, load_form, me, run_form, signed_in, web

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
        body = load_form(schemas.TokenIn(), **{k: v for k, v in lists.items() if v})
        created = tokens.create_token(**tokens.creation(body), actor=me().name)
    except GateError as error:
        flash(error.detail, "error")
        return redirect(url_for("web.tokens_page"))
    return _tokens_page(created), 201, {"Cache-Control": "no-store"}  # the secret must stay in no cache


@web.route("/admin/tokens/<id:token_id>/revoke", methods=["POST"])
@signed_in("admin")
def revoke_token(token_id: int) -> Response:
    def act() -> None:
        confirmed("revocation")
        revoked = tokens.revoke_token(token_id=token_id, actor=me().name)
        flash(f"Token {revoked.name} revoked: it works nowhere from now on.", "ok")

    return run_form(url_for("web.tokens_page"), act)


@web.route("/admin/audit")
@signed_in("admin")
def audit_page() -> str:
    query = load(schemas.AuditQuery(), {k: v for k, v in request.args.items() if v.strip()})
    entries = audit.list_audit(
        feature=query["feature"], actor=query["actor"], action=query["action"], limit=200, before=query["before"]
    )
    return render_template("audit.html", entries=entries, query=query)
