"""One error tree and one renderer: every failure leaves as RFC 9457 problem+json.

GateError                 500 (never raised on purpose)
├── BadRequest            400 malformed input
├── Unauthorized          401 no or bad token
├── Forbidden             403 wrong role
├── NotFound              404 unknown thing
├── Conflict              409 the state forbids it
│   └── GateRefused       409 a gate did not pass; carries its checks
├── PayloadTooLarge       413
├── UnsupportedMediaType  415
├── InvalidInput          422 well-formed but invalid; carries errors by field
└── Unavailable           503 try again later (Retry-After)
    └── DatabaseUnavailable   the database cannot be reached now
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from flask import Flask, Response, json, make_response, render_template, request
from marshmallow import ValidationError
from werkzeug.exceptions import HTTPException

from gate.domain.errors import DomainError, ParseError
from gate.domain.gate import Check
from gate.services.outage import OUTAGE, is_outage

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger(__name__)


class GateError(Exception):
    """Base of every error Gate answers with; subclasses set status, title and type."""

    status = 500
    title = "Internal server error"
    type = "about:blank"

    def __init__(
        self,
        detail: str = "",
        *,
        errors: Mapping[str, Sequence[str]] | None = None,
        checks: Sequence[Check] | None = None,
    ) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.errors = errors
        self.checks = checks

    def to_problem(self) -> dict[str, Any]:
        """Render the RFC 9457 body."""
        body: dict[str, Any] = {"type": self.type, "title": self.title, "status": self.status, "detail": self.detail}
        if self.errors is not None:
            body["errors"] = {k: list(v) for k, v in self.errors.items()}
        if self.checks is not None:
            body["checks"] = [{"name": c.name, "passed": c.passed, "detail": c.detail} for c in self.checks]
        return body


class BadRequest(GateError):
    status, title, type = 400, "Bad request", "/problems/bad-request"


class Unauthorized(GateError):
    status, title, type = 401, "Unauthorized", "/problems/unauthorized"


class Forbidden(GateError):
    status, title, type = 403, "Forbidden", "/problems/forbidden"


class NotFound(GateError):
    status, title, type = 404, "Not found", "/problems/not-found"


class MethodNotAllowed(GateError):
    status, title, type = 405, "Method not allowed", "/problems/method-not-allowed"


class Conflict(GateError):
    status, title, type = 409, "Conflict", "/problems/conflict"


class GateRefused(Conflict):
    title, type = "Gate refused", "/problems/gate-refused"


class PayloadTooLarge(GateError):
    status, title, type = 413, "Payload too large", "/problems/payload-too-large"


class UnsupportedMediaType(GateError):
    status, title, type = 415, "Unsupported media type", "/problems/unsupported-media-type"


class InvalidInput(GateError):
    status, title, type = 422, "Invalid input", "/problems/invalid-input"


class Unavailable(GateError):
    status, title, type = 503, "Service unavailable", "/problems/unavailable"
    retry_after = 2


class DatabaseUnavailable(Unavailable):
    title, type = "Database unavailable", "/problems/database-unavailable"


_BY_STATUS: dict[int, type[GateError]] = {
    cls.status: cls
    for cls in (
        BadRequest,
        Unauthorized,
        Forbidden,
        NotFound,
        MethodNotAllowed,
        Conflict,
        PayloadTooLarge,
        UnsupportedMediaType,
        InvalidInput,
    )
}


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


def _flatten(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    """Turn marshmallow's nested messages into a path → messages map."""
    if isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        return {prefix or "$": messages}
    if isinstance(messages, Mapping):
        out: dict[str, list[str]] = {}
        for key, value in messages.items():
            if key == "_schema":
                path = prefix or "$"
            elif isinstance(key, int):
                path = f"{prefix}[{key}]"
            else:
                path = f"{prefix}.{key}" if prefix else str(key)
            for k, v in _flatten(value, path).items():
                out.setdefault(k, []).extend(v)
        return out
    return {prefix or "$": [str(messages)]}


def invalid_input(messages: Any) -> InvalidInput:
    """An InvalidInput carrying marshmallow's messages, flattened to path → messages."""
    errors = _flatten(messages)
    return InvalidInput("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()), errors=errors)


def from_http_exception(exc: HTTPException) -> GateError:
    """Map a werkzeug or flask-smorest HTTP error onto the tree."""
    status = exc.code or 500
    cls = _BY_STATUS.get(status, GateError)
    data = getattr(exc, "data", None) or {}
    messages = data.get("messages")
    if messages is not None:
        # webargs nests messages by location ({"json": {...}}); the location adds nothing for callers
        if isinstance(messages, Mapping) and len(messages) == 1 and next(iter(messages)) in ("json", "query", "form"):
            messages = next(iter(messages.values()))
        errors = _flatten(messages)
        detail = "; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items())
        return cls(detail, errors=errors)
    error = cls(exc.description or cls.title)
    if cls is GateError:
        error.status, error.title = status, exc.name
    return error


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

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Response:
        headers = {}
        if exc.code == 405 and exc.valid_methods:  # type: ignore[attr-defined]
            headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
        return problem_response(from_http_exception(exc), headers)

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
