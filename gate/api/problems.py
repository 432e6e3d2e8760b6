"""The one renderer: every failure, Flask's and marshmallow's included, leaves as RFC 9457 problem+json."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from flask import Flask, Response, current_app, json, make_response, render_template, request
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from gate.domain.errors import DomainError, ParseError
from gate.errors import (
    BY_STATUS,
    ERROR_PAGE,
    PROBLEM_JSON,
    Conflict,
    DatabaseUnavailable,
    GateError,
    InvalidInput,
    Unavailable,
)
from gate.schemas.base import flatten, invalid_input
from gate.services.outage import OUTAGE, is_outage

log = logging.getLogger("gate.errors")


def problem_response(error: GateError, headers: Mapping[str, str] | None = None) -> Response:
    """Render `error` as a problem+json response."""
    response = Response(json.dumps(error.to_problem()), status=error.status, mimetype=PROBLEM_JSON)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    if error.status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="gate"'
    if isinstance(error, Unavailable):
        response.headers["Retry-After"] = str(error.retry_after)
    return response


def from_http_exception(exc: HTTPException) -> GateError:
    """Map a werkzeug or flask-smorest HTTP error onto the tree."""
    status = exc.code or 500
    cls = BY_STATUS.get(status, GateError)
    data = getattr(exc, "data", None) or {}
    messages = data.get("messages")
    if messages is not None:
        # webargs nests messages by location ({"json": {...}}); the location adds nothing for callers
        if isinstance(messages, Mapping) and len(messages) == 1 and next(iter(messages)) in ("json", "query", "form"):
            messages = next(iter(messages.values()))
        errors = flatten(messages)
        detail = "; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items())
        return cls(detail, errors=errors)
    error = cls(exc.description or cls.title)
    if cls is GateError:
        error.status, error.title = status, exc.name
    return error


def http_problem(exc: HTTPException) -> Response:
    """Werkzeug's and flask-smorest's HTTP errors (404, 405, 413, webargs' 422) as problem+json."""
    error_page = current_app.extensions.get(ERROR_PAGE)
    if exc.code == 404 and error_page is not None:
        page = error_page(from_http_exception(exc))
        if page is not None:  # a browser asked for a page that does not exist
            return page  # type: ignore[no-any-return]
    headers = {}
    if exc.code == 405 and exc.valid_methods:  # type: ignore[attr-defined]
        headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
    return problem_response(from_http_exception(exc), headers)


def register_error_handlers(app: Flask) -> None:
    """Render every error, Flask's own included, as problem+json."""

    @app.errorhandler(GateError)
    def _gate_error(exc: GateError) -> Response:
        return problem_response(exc)

    @app.errorhandler(ParseError)
    def _parse_error(exc: ParseError) -> Response:
        return problem_response(InvalidInput(str(exc), errors=exc.errors))

    @app.errorhandler(DomainError)
    def _domain_error(exc: DomainError) -> Response:
        return problem_response(Conflict(str(exc)))

    @app.errorhandler(ValidationError)
    def _validation_error(exc: ValidationError) -> Response:
        return problem_response(invalid_input(exc.messages))

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:
        if is_outage(exc):
            OUTAGE.failed(exc)
            error = DatabaseUnavailable("The database is unavailable; Gate answers again by itself when it returns.")
            if request.blueprint == "web":  # a person reads it: a page, not a JSON document
                page = make_response(render_template("error.html", error=error), error.status)
                page.headers["Retry-After"] = str(error.retry_after)
                return page
            return problem_response(error)
        log.exception("unexpected error")
        return problem_response(GateError("An unexpected error occurred; it has been logged."))
