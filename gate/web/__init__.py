"""The release dashboard: server-rendered pages over the same services as the API, no build step."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import Any

from flask import Flask, Request, Response, render_template, request
from flask.sessions import SecureCookieSessionInterface

from gate.config import enabled
from gate.domain.exposure import format_percent, percent_number
from gate.domain.words import counted, duration
from gate.errors import ERROR_PAGE, PROBLEM_JSON, GateError
from gate.services.outage import OUTAGE, is_outage
from gate.services.web_sessions import stored_secret
from gate.web import admin_pages, charts, feature_pages, incident_pages, milestone_pages, timeline, views  # noqa: F401 - each adds its pages to views.web
from gate.web.csrf import csrf_token
from gate.web.sso import register_sso


class SessionInterface(SecureCookieSessionInterface):
    """Signed cookie sessions: HttpOnly, SameSite=Lax, and Secure whenever the page came over HTTPS."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or _is_secure(request)

    def get_signing_serializer(self, app: Flask) -> Any:
        """Read the signing key from the store on first use, so a worker boots while the database is away."""
        if not app.secret_key:
            try:
                app.secret_key = _session_secret(app)
            except Exception as exc:
                if not is_outage(exc):
                    raise
                OUTAGE.failed(exc)
                return None  # no session this time: the page says the database is unavailable
        return super().get_signing_serializer(app)


def _is_secure(req: Request) -> bool:
    return req.is_secure or req.headers.get("X-Forwarded-Proto", "") == "https"


def _session_secret(app: Flask) -> str:
    configured = app.config.get("SECRET_KEY")
    if configured:
        return str(configured)
    with app.app_context():
        stored = stored_secret()
    return stored or secrets.token_hex(32)  # an unmigrated store: sessions last as long as this process


SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def _security_headers(response: Response) -> Response:
    """Every answer: no inline script, no framing, no sniffing, no referrer leaving the site."""
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def _error_page(error: GateError) -> Response | None:
    """A page in the dashboard's style for a browser that asked for a page; None for API clients, which
    keep problem+json (everything under /api/ and /ofrep/, and whoever prefers JSON to HTML)."""
    if request.path.startswith(("/api/", "/ofrep/")):
        return None
    if request.accept_mimetypes.best_match([PROBLEM_JSON, "application/json", "text/html"]) != "text/html":
        return None
    if error.status == 404:
        error.detail = "There is no page here: the link may be old, or the feature archived."
    return Response(render_template("error.html", error=error), status=error.status, mimetype="text/html")


def _duration(span: timedelta | float) -> str:
    """A span in words for pages: '47 h 59 min', '1 day'."""
    return duration(span.total_seconds() if isinstance(span, timedelta) else span)


def register_web(app: Flask) -> None:
    """Mount the dashboard at /."""
    app.secret_key = app.config.get("SECRET_KEY") or None  # else read from the store on first use
    app.session_interface = SessionInterface()
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_NAME="gate_session")
    secure = app.config.get("SESSION_COOKIE_SECURE", False)
    app.config["SESSION_COOKIE_SECURE"] = enabled(secure)
    app.jinja_env.globals.update(
        csrf_token=csrf_token, bar_chart=charts.bar_chart, evidence_chart=charts.evidence_chart
    )
    app.jinja_env.filters.update(
        percent=format_percent,
        percent_number=percent_number,
        counted=counted,
        duration=_duration,
        in_words=timeline.in_words,
    )
    app.register_blueprint(views.web)
    register_sso(app)
    app.extensions[ERROR_PAGE] = _error_page
    app.after_request(_security_headers)


__all__ = ["SECURITY_HEADERS", "register_web"]
